"""Maximum inner-product search over embeddings: the only module that imports FAISS.

Exact search (``flat``) is the default; ``ivf`` and ``hnsw`` trade recall for speed on large
corpora. Results are deterministic: rows are ordered by score, ties by the lower document id, and
the HNSW graph is built on one thread (parallel insertion makes the graph depend on timing).
"""

from __future__ import annotations

import logging
import math

import faiss
import numpy as np
import torch

log = logging.getLogger(__name__)

KINDS = ("flat", "ivf", "hnsw")
GPU_MAX_K = 2048  # FAISS GPU k-selection limit; larger k is searched on the CPU
_cpu_fallback_logged = False
_gpu_resources = None  # one StandardGpuResources per process: it reserves scratch GPU memory


def faiss_info() -> dict:
    """Version, GPU support and thread count of the installed FAISS."""
    return {
        "version": faiss.__version__,
        "gpu_build": _gpu_build(),
        "gpus": int(faiss.get_num_gpus()) if _gpu_build() else 0,
        "omp_threads": int(faiss.omp_get_max_threads()),
    }


def _gpu_build() -> bool:
    return hasattr(faiss, "StandardGpuResources") and hasattr(faiss, "index_cpu_to_gpu")


def _want_gpu(use_gpu: str | bool) -> bool:
    """Resolve ``use_gpu`` (``"auto"``, ``True``, ``False``) against the installed FAISS."""
    global _cpu_fallback_logged
    if isinstance(use_gpu, str):
        if use_gpu != "auto":
            raise ValueError(f"use_gpu must be 'auto', true or false, got {use_gpu!r}")
        available = _gpu_build() and faiss.get_num_gpus() > 0
        if not available and not _cpu_fallback_logged:
            _cpu_fallback_logged = True
            log.info(
                "faiss %s has no usable GPU (gpu build: %s): searching on the CPU",
                faiss.__version__,
                _gpu_build(),
            )
        return available
    if use_gpu and not (_gpu_build() and faiss.get_num_gpus() > 0):
        raise RuntimeError("use_gpu=true but the installed faiss has no GPU support or no GPU")
    return bool(use_gpu)


def _build(kind: str, d: int, n: int, nlist: int | None, nprobe: int, hnsw_m: int, k: int):
    """An empty (untrained) CPU index of the given kind, search parameters set."""
    if kind == "flat":
        return faiss.IndexFlatIP(d)
    if kind == "ivf":
        # FAISS wants >= 39 training points per list; sqrt(N) lists is its usual rule of thumb
        nlist = nlist or max(1, min(int(math.sqrt(n)), n // 39))
        nlist = min(nlist, n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(nprobe, nlist)
        return index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = max(index.hnsw.efSearch, 2 * k)
        return index
    raise ValueError(f"unknown index kind {kind!r}")


def _to_gpu(index, kind: str, k: int):
    """Move ``index`` to GPU 0 when FAISS can search it there, else return it unchanged."""
    if kind == "hnsw" or k > GPU_MAX_K:
        log.info("faiss: %s search with k=%d stays on the CPU", kind, k)
        return index
    global _gpu_resources
    if _gpu_resources is None:
        _gpu_resources = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(_gpu_resources, 0, index)


def _add(index, xb: np.ndarray, single_thread: bool) -> None:
    """Add vectors; HNSW inserts in parallel in a thread-dependent order, so build it serially."""
    threads = faiss.omp_get_max_threads()
    if single_thread:
        faiss.omp_set_num_threads(1)
    try:
        index.add(xb)
    finally:
        faiss.omp_set_num_threads(threads)


def _as_array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())


def _order_rows(scores: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by score (descending), ties by id (ascending), missing (-1) last."""
    scores = torch.where(ids >= 0, scores, torch.full_like(scores, float("-inf")))
    by_id = ids.masked_fill(ids < 0, torch.iinfo(torch.long).max).argsort(dim=1, stable=True)
    scores, ids = torch.gather(scores, 1, by_id), torch.gather(ids, 1, by_id)
    by_score = scores.argsort(dim=1, descending=True, stable=True)
    return torch.gather(scores, 1, by_score), torch.gather(ids, 1, by_score)


def search(
    queries: torch.Tensor,
    docs: torch.Tensor,
    k: int,
    kind: str = "flat",
    use_gpu: str | bool = "auto",
    nlist: int | None = None,
    nprobe: int = 16,
    hnsw_m: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` documents per query by inner product.

    Args:
        queries: ``[Q, D]`` query embeddings.
        docs: ``[N, D]`` document embeddings.
        k: results per query; searched as ``min(k, N)``, then padded back to ``k``.
        kind: ``"flat"`` (exact), ``"ivf"`` (IndexIVFFlat trained on ``docs``) or ``"hnsw"``.
        use_gpu: ``"auto"`` (GPU when FAISS has one), ``True`` (required) or ``False``.
        nlist: IVF lists (default ``min(sqrt(N), N / 39)``).
        nprobe: IVF lists visited per query.
        hnsw_m: HNSW neighbours per node.

    Returns:
        scores ``[Q, k]`` float32 (``-inf`` padded) and ids ``[Q, k]`` long (``-1`` padded).
    """
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"need [Q, D] and [N, D], got {tuple(queries.shape)}, {tuple(docs.shape)}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {KINDS}, got {kind!r}")
    nq, n = queries.shape[0], docs.shape[0]
    scores = torch.full((nq, k), float("-inf"))
    ids = torch.full((nq, k), -1, dtype=torch.long)
    kk = min(k, n)
    if kk == 0 or nq == 0:
        return scores, ids
    xb = _as_array(docs)
    index = _build(kind, xb.shape[1], n, nlist, nprobe, hnsw_m, kk)
    if _want_gpu(use_gpu):
        index = _to_gpu(index, kind, kk)
    if not index.is_trained:
        index.train(xb)
    _add(index, xb, single_thread=kind == "hnsw")
    dist, found = index.search(_as_array(queries), kk)
    s, i = _order_rows(torch.from_numpy(dist).float(), torch.from_numpy(found).long())
    scores[:, :kk], ids[:, :kk] = s, i
    return scores, ids
