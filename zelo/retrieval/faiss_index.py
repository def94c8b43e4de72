"""Approximate indexes (IVF, HNSW) through FAISS: the only module that imports FAISS.

Indexes are built from an :class:`~zelo.retrieval.embeddings.EmbeddingMatrix` in row blocks
(``add`` per block, so no second full copy of the embeddings is made besides the index's own),
written to disk once and read back by later runs. The HNSW graph is built on one thread:
parallel insertion makes the graph depend on timing.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import faiss
import numpy as np
import torch

from zelo.retrieval.embeddings import EmbeddingMatrix

log = logging.getLogger(__name__)

GPU_MAX_K = 2048  # FAISS GPU k-selection limit; larger k is searched on the CPU
TRAIN_POINTS_PER_LIST = 64  # k-means sample per IVF list (FAISS warns below 39)
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


def faiss_gpu(use_gpu: str | bool) -> bool:
    """Resolve ``use_gpu`` (``"auto"``, ``True``, ``False``) against the installed FAISS."""
    global _cpu_fallback_logged
    if isinstance(use_gpu, str):
        if use_gpu != "auto":
            raise ValueError(f"use_gpu must be 'auto', true or false, got {use_gpu!r}")
        available = _gpu_build() and faiss.get_num_gpus() > 0
        if not available and not _cpu_fallback_logged:
            _cpu_fallback_logged = True
            log.info(
                "faiss %s has no usable GPU (gpu build: %s): approximate search on the CPU",
                faiss.__version__,
                _gpu_build(),
            )
        return available
    if use_gpu and not (_gpu_build() and faiss.get_num_gpus() > 0):
        raise RuntimeError("use_gpu=true but the installed faiss has no GPU support or no GPU")
    return bool(use_gpu)


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: ``sqrt(n)``, at most one per 39 training points, at least 1."""
    return max(1, min(int(math.sqrt(n)), n // 39))


def _train_sample(emb: EmbeddingMatrix, count: int, seed: int) -> np.ndarray:
    """``count`` distinct rows drawn at random (seeded), in id order: ``[count, D]``."""
    if count >= len(emb):
        return np.concatenate([b.numpy() for _, b in emb.blocks()])
    g = torch.Generator().manual_seed(seed)
    ids = torch.randperm(len(emb), generator=g)[:count].sort().values
    return emb.rows(ids).numpy()


def build_ivf(emb: EmbeddingMatrix, nlist: int | None = None, seed: int = 0):
    """An ``IndexIVFFlat`` (inner product), k-means trained on a seeded sample, blocks added."""
    nlist = min(nlist or default_nlist(len(emb)), len(emb))
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(emb.dim), emb.dim, nlist, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = seed
    index.train(_train_sample(emb, TRAIN_POINTS_PER_LIST * nlist, seed))
    for _, block in emb.blocks():
        index.add(np.ascontiguousarray(block.numpy()))
    return index


def build_hnsw(emb: EmbeddingMatrix, m: int = 32, ef_construction: int = 40):
    """An ``IndexHNSWFlat`` (inner product) built on one thread, blocks added in order."""
    index = faiss.IndexHNSWFlat(emb.dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for _, block in emb.blocks():
            index.add(np.ascontiguousarray(block.numpy()))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def save_index(index, path: Path) -> None:
    """Write ``index`` to ``path`` atomically (a temporary name, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(path)


def load_index(path: Path):
    """The index written by :func:`save_index`, or ``None`` (with a warning) if unreadable."""
    try:
        return faiss.read_index(str(path))
    except RuntimeError as err:
        log.warning("faiss index cache: unreadable %s (%s): rebuilding", path, err)
        return None


def set_search_params(index, nprobe: int | None = None, ef_search: int | None = None) -> None:
    """Lists visited per query (IVF) or the search beam (HNSW)."""
    if nprobe is not None and hasattr(index, "nprobe"):
        index.nprobe = min(nprobe, index.nlist)
    if ef_search is not None and hasattr(index, "hnsw"):
        index.hnsw.efSearch = ef_search


def to_gpu(index, k: int):
    """``index`` on GPU 0 when FAISS can search it there (IVF, ``k <= 2048``), else unchanged."""
    if hasattr(index, "hnsw") or k > GPU_MAX_K:
        log.info("faiss: this search (k=%d) stays on the CPU", k)
        return index
    global _gpu_resources
    if _gpu_resources is None:
        _gpu_resources = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(_gpu_resources, 0, index)


def index_search(index, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw FAISS search: scores ``[Q, k]`` (``-inf`` where nothing was found), ids (``-1``)."""
    xq = np.ascontiguousarray(queries.detach().to("cpu", torch.float32).numpy())
    dist, found = index.search(xq, k)
    ids = torch.from_numpy(found).long()
    scores = torch.from_numpy(dist).float().masked_fill(ids < 0, float("-inf"))
    return scores, ids
