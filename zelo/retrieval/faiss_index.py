"""Approximate indexes (IVF, HNSW) through FAISS: the only module that imports FAISS.

Indexes are built from an :class:`~zelo.retrieval.embeddings.EmbeddingMatrix` in row blocks
(``add`` per block, so no second full copy of the embeddings is made besides the index's own),
written to disk once and read back by later runs. The HNSW graph is built on one thread:
parallel insertion makes the graph depend on timing.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import faiss
import numpy as np
import torch

from zelo.retrieval.embeddings import BLOCK_ROWS, EmbeddingMatrix
from zelo.retrieval.exact import SCORE_BUFFER_ELEMENTS, one_thread, top_ordered
from zelo.utils.io import temporary_file

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
    """An ``IndexIVFFlat`` (inner product), k-means trained on a seeded sample.

    Vectors are assigned to lists block by block; every list is then allocated once at its final
    size and filled in place (FAISS's ``add`` appends vector by vector, and the lists' doubling
    growth holds ~40 % more memory than the index needs).
    """
    nlist = min(nlist or default_nlist(len(emb)), len(emb))
    quantizer = faiss.IndexFlatIP(emb.dim)
    index = faiss.IndexIVFFlat(quantizer, emb.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(_train_sample(emb, TRAIN_POINTS_PER_LIST * nlist, seed))
    lists = np.empty(len(emb), dtype=np.int64)
    for start, block in emb.blocks():
        lists[start : start + len(block)] = quantizer.search(block.numpy(), 1)[1][:, 0]
    _fill_lists(index, emb, lists)
    return index


def _fill_lists(index, emb: EmbeddingMatrix, lists: np.ndarray) -> None:
    """Write every vector into its list (``lists [N]``), each list sized exactly once."""
    invlists = faiss.downcast_InvertedLists(index.invlists)
    sizes = np.bincount(lists, minlength=index.nlist)
    for list_no, size in enumerate(sizes.tolist()):
        invlists.resize(list_no, size)
    order = np.argsort(lists, kind="stable")  # doc ids grouped by list, ascending within
    ends = np.cumsum(sizes)
    first = 0
    while first < index.nlist:  # whole lists, about BLOCK_ROWS vectors per read
        lo = int(ends[first - 1]) if first else 0
        last = max(first, int(np.searchsorted(ends, lo + BLOCK_ROWS, side="right")) - 1)
        ids = np.ascontiguousarray(order[lo : ends[last]])
        x = np.ascontiguousarray(emb.rows(torch.from_numpy(ids)).numpy())
        for list_no in range(first, last + 1):
            a, b = (int(ends[list_no - 1]) if list_no else 0) - lo, int(ends[list_no]) - lo
            if b > a:
                codes = np.ascontiguousarray(x[a:b]).view(np.uint8)
                invlists.update_entries(
                    list_no, 0, b - a, faiss.swig_ptr(ids[a:b]), faiss.swig_ptr(codes)
                )
        first = last + 1
    index.ntotal = len(emb)


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
    """Write ``index`` to ``path`` atomically: streamed into a new temporary file beside it
    (created ``O_EXCL``, so never through a planted link), fsynced, renamed; the temporary goes
    on any error."""
    with temporary_file(path) as (fh, tmp):
        faiss.write_index(index, faiss.PyCallbackIOWriter(fh.write))
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, path)


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


def _list_arrays(invlists, list_no: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A list's vectors ``[n, D]`` and ids ``[n]``, viewing FAISS's storage (no copy)."""
    n = invlists.list_size(list_no)
    codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), n * dim * 4).view(np.float32)
    ids = faiss.rev_swig_ptr(invlists.get_ids(list_no), n)
    return torch.from_numpy(codes.reshape(n, dim)), torch.from_numpy(ids)


def ivf_search(
    index, queries: torch.Tensor, k: int, nprobe: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """IVF-Flat search as GEMMs: each list against every query that probes it at once.

    The same candidates as FAISS's own scan (the ``nprobe`` nearest lists per query), scored by
    one matrix product per list instead of one vector at a time and written side by side into
    a ``[queries, candidates]`` buffer; one top-k per row then ranks them in (score desc, id asc)
    order. Queries go in chunks whose buffer holds :data:`SCORE_BUFFER_ELEMENTS` scores.

    Args:
        index: an ``IndexIVFFlat`` with inner-product metric and array inverted lists.
        queries: ``[Q, D]``.
        k: results per query.
        nprobe: lists visited per query.

    Returns:
        scores ``[Q, k]`` (``-inf`` padded) and ids ``[Q, k]`` (``-1`` padded).
    """
    invlists = faiss.downcast_InvertedLists(index.invlists)
    nprobe = min(nprobe, index.nlist)
    sizes = torch.tensor([invlists.list_size(i) for i in range(index.nlist)])
    starts = torch.cumsum(sizes, 0) - sizes  # where each list begins in all_ids
    all_ids = torch.cat([_list_arrays(invlists, i, index.d)[1] for i in range(index.nlist)])
    q = np.ascontiguousarray(queries.detach().to("cpu", torch.float32).numpy())
    probe = torch.from_numpy(index.quantizer.search(q, nprobe)[1])  # [Q, nprobe]
    widths = torch.where(probe >= 0, sizes[probe.clamp(min=0)], 0)  # [Q, nprobe]
    rows = max(1, SCORE_BUFFER_ELEMENTS // max(int(widths.sum(1).max()), 1))
    out = []
    with one_thread(torch.device("cpu")):  # many small GEMMs: threads only wait on each other
        for q0 in range(0, len(q), rows):
            part = slice(q0, q0 + rows)
            scores = _scan_lists(
                invlists, index.d, torch.from_numpy(q[part]), probe[part], widths[part]
            )
            offsets = torch.cumsum(widths[part], 1) - widths[part]  # [R, nprobe]

            def ids_at(r: torch.Tensor, cols: torch.Tensor, offsets=offsets, probe=probe[part]):
                slot = torch.searchsorted(offsets[r], cols, right=True) - 1  # [F, W]
                first = starts[torch.gather(probe[r], 1, slot)] - torch.gather(offsets[r], 1, slot)
                return all_ids[(first + cols).clamp(max=len(all_ids) - 1)]

            s, i = top_ordered(scores, ids_at, min(k, scores.shape[1]))
            out.append((s, torch.where(torch.isinf(s), -1, i)))
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


def _scan_lists(
    invlists, dim: int, q: torch.Tensor, probe: torch.Tensor, widths: torch.Tensor
) -> torch.Tensor:
    """``[R, candidates]`` scores: row r holds its probed lists' scores side by side (-inf pad)."""
    offsets = torch.cumsum(widths, 1) - widths  # [R, nprobe]
    buffer = torch.full((len(q), max(int(widths.sum(1).max()), 1)), float("-inf"))
    flat = probe.reshape(-1)
    order = flat.argsort(stable=True)  # (row, slot) pairs grouped by list
    lists, counts = torch.unique_consecutive(flat[order], return_counts=True)
    lo = 0
    for list_no, count in zip(lists.tolist(), counts.tolist(), strict=True):
        pairs, lo = order[lo : lo + count], lo + count
        if list_no < 0 or invlists.list_size(list_no) == 0:
            continue
        vectors, _ = _list_arrays(invlists, list_no, dim)
        r = pairs // probe.shape[1]
        at = (r * buffer.shape[1] + offsets.view(-1)[pairs])[:, None] + torch.arange(len(vectors))
        buffer.view(-1)[at] = q[r] @ vectors.T  # [m, n]
    return buffer
