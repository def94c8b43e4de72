"""Searchers: an index over a fixed document matrix, built once and queried many times.

``flat`` is exact (:mod:`zelo.retrieval.exact`: blocked GEMM + top-k in torch, on the GPU when there
is one; it needs no FAISS). ``ivf`` and ``hnsw`` are FAISS indexes (FAISS imported on first use), trained once and cached beside the embeddings; each
states its recall@100 against flat. :func:`searcher_for` keeps the last few searchers of the
process by (embeddings key, kind, parameters), so mining passes, evaluation batches and the jobs
of a sweep reuse one index. Every result is ordered by score (descending), ties by the lower id.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, OrderedDict
from pathlib import Path

import torch

from zelo.retrieval.backends import faiss_backend
from zelo.retrieval.embeddings import BLOCK_ROWS, EmbeddingMatrix
from zelo.retrieval.exact import exact_search, top_ordered
from zelo.utils.io import atomic_write_json

log = logging.getLogger(__name__)

KINDS = ("flat", "ivf", "hnsw")
RECALL_QUERIES = 256  # sampled documents used as queries to measure recall@100 against flat
REGISTRY_SIZE = 2
build_counts: Counter[str] = Counter()  # searchers built in this process, by kind
_registry: OrderedDict[tuple, Searcher] = OrderedDict()
_cuda_fallback_logged = False


def torch_device(use_gpu: str | bool) -> str:
    """``"cuda"`` or ``"cpu"`` for exact search: ``"auto"`` takes CUDA when torch has it."""
    global _cuda_fallback_logged
    if use_gpu == "auto":
        if not torch.cuda.is_available() and not _cuda_fallback_logged:
            _cuda_fallback_logged = True
            log.info("no CUDA device: exact search on the CPU")
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(use_gpu, bool):
        raise ValueError(f"use_gpu must be 'auto', true or false, got {use_gpu!r}")
    if use_gpu and not torch.cuda.is_available():
        raise RuntimeError("use_gpu=true but torch sees no CUDA device")
    return "cuda" if use_gpu else "cpu"


def _check_queries(queries: torch.Tensor, dim: int, k: int) -> None:
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must be [Q, {dim}], got {tuple(queries.shape)}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")


def _padded(scores: torch.Tensor, ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Results ``[Q, k' <= k]`` padded on the right to ``[Q, k]`` with ``-inf`` / ``-1``."""
    nq, have = ids.shape
    out_s = torch.full((nq, k), float("-inf"))
    out_i = torch.full((nq, k), -1, dtype=torch.long)
    out_s[:, :have], out_i[:, :have] = scores.float().cpu(), ids.cpu()
    return out_s, out_i


class Searcher:
    """Top-``k`` documents by inner product over one fixed ``[N, D]`` matrix.

    Attributes:
        kind: ``flat``, ``ivf`` or ``hnsw``.
        size: N.
        dim: D.
        recall_at_100: recall@100 against exact search (1.0 for ``flat``).
        build_seconds: time spent building (or loading) the index.
    """

    kind = "flat"

    def __init__(self, size: int, dim: int) -> None:
        self.size, self.dim = size, dim
        self.recall_at_100 = 1.0
        self.build_seconds = 0.0

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``[Q, k]`` float32 (``-inf`` padded) and ids ``[Q, k]`` long (``-1`` padded).

        Args:
            queries: ``[Q, D]`` query embeddings.
            k: results per query; searched as ``min(k, N)``, then padded back to ``k``.
        """
        _check_queries(queries, self.dim, k)
        kk = min(k, self.size)
        if kk == 0 or queries.shape[0] == 0:
            return _padded(torch.zeros(queries.shape[0], 0), torch.zeros(queries.shape[0], 0), k)
        return _padded(*self._search(queries, kk), k)

    def _search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class ExactSearcher(Searcher):
    """Exact search: document blocks streamed through one GEMM + top-k each.

    Args:
        docs: the documents (a tensor is used in place; a ``.npy`` file is read block by block).
        device: ``"cpu"`` or ``"cuda"``; a tensor is copied to the GPU once, here.
        block_rows: documents per block.
    """

    kind = "flat"

    def __init__(
        self, docs: EmbeddingMatrix, device: str = "cpu", block_rows: int = BLOCK_ROWS
    ) -> None:
        super().__init__(len(docs), docs.dim)
        if device != "cpu" and docs.tensor is not None:
            docs = EmbeddingMatrix(docs.tensor.to(device, torch.float32))
        self.docs, self.device, self.block_rows = docs, device, block_rows

    def _search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        q = queries.detach().to(self.device, torch.float32).contiguous()
        return exact_search(q, self.docs.blocks(self.block_rows, self.device), k)


class FaissSearcher(Searcher):
    """An IVF or HNSW index, built once (or read from ``cache_path``), recall@100 measured.

    Args:
        docs: the documents.
        kind: ``"ivf"`` or ``"hnsw"``.
        nlist: IVF lists (default ``sqrt(N)``, see :func:`faiss_index.default_nlist`).
        nprobe: IVF lists visited per query (default ``max(16, nlist / 8)``: recall@100 0.96
            on the synthetic 1M of ``bench/scale.py``).
        hnsw_m: HNSW neighbours per node.
        ef_search: HNSW search beam (default ``2 k`` at each search).
        cache_path: where the index is written after building and read from later (``None``:
            not cached); a ``.json`` beside it keeps build time and recall per search setting.
        use_gpu: search IVF with faiss-gpu (``"auto"``: when FAISS has a GPU).
        seed: seeds the IVF k-means sample and the recall sample.
    """

    def __init__(
        self,
        docs: EmbeddingMatrix,
        kind: str,
        nlist: int | None = None,
        nprobe: int | None = None,
        hnsw_m: int = 32,
        ef_search: int | None = None,
        cache_path: str | Path | None = None,
        use_gpu: str | bool = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__(len(docs), docs.dim)
        faiss_backend(kind)  # FAISS importable, one build: checked before any work
        self.kind, self.nprobe, self.ef_search = kind, nprobe, ef_search
        self.cache_path = Path(cache_path) if cache_path else None
        self._gpu = self.faiss.faiss_gpu(use_gpu) and kind == "ivf"
        self._gpu_index = None
        start = time.perf_counter()
        self.index = None
        if self.cache_path is not None and self.cache_path.exists():
            self.index = self.faiss.load_index(self.cache_path)
        if self.index is None or (self.index.ntotal, self.index.d) != (len(docs), docs.dim):
            self.index = self._build(docs, nlist, hnsw_m, seed)
        if kind == "ivf" and nprobe is None:
            self.nprobe = max(16, self.index.nlist // 8)
        self.build_seconds = time.perf_counter() - start
        self.recall_at_100 = self._recall(docs, seed)
        log.info(
            "%s index over %d docs ready in %.1f s: recall@100 %.4f against flat (%s)",
            kind,
            len(docs),
            self.build_seconds,
            self.recall_at_100,
            self._setting(100),
        )

    @property
    def faiss(self):
        """:mod:`zelo.retrieval.faiss_index` (a module is no attribute: searchers stay copyable)."""
        return faiss_backend(self.kind)

    def _build(self, docs: EmbeddingMatrix, nlist: int | None, hnsw_m: int, seed: int):
        start = time.perf_counter()
        if self.kind == "ivf":
            index = self.faiss.build_ivf(docs, nlist, seed)
        else:
            index = self.faiss.build_hnsw(docs, hnsw_m)
        if self.cache_path is not None:  # a new index: its sidecar starts afresh
            self.faiss.save_index(index, self.cache_path)
            meta = {"build_seconds": round(time.perf_counter() - start, 3)}
            atomic_write_json(self.cache_path.with_suffix(".json"), meta)
        return index

    def _setting(self, k: int) -> str:
        if self.kind == "ivf":
            return f"nprobe={min(self.nprobe, self.index.nlist)}/{self.index.nlist}"
        return f"efSearch={self.ef_search or 2 * k}"

    def _recall(self, docs: EmbeddingMatrix, seed: int) -> float:
        """recall@100 against flat on sampled documents used as queries (cached per setting)."""
        meta_path = self.cache_path.with_suffix(".json") if self.cache_path else None
        try:
            meta = json.loads(meta_path.read_text()) if meta_path else {}
        except (OSError, json.JSONDecodeError):
            meta = {}
        known, setting = meta.get("recall_at_100", {}), self._setting(100)
        if setting in known:
            return float(known[setting])
        g = torch.Generator().manual_seed(seed + 1)
        sample = docs.rows(torch.randperm(len(docs), generator=g)[:RECALL_QUERIES])
        _, exact = ExactSearcher(docs).search(sample, 100)
        known[setting] = recall_at(self.search(sample, 100)[1], exact)
        if meta_path is not None:
            atomic_write_json(meta_path, {**meta, "recall_at_100": known})
        return known[setting]

    def _search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._gpu and k <= self.faiss.GPU_MAX_K:
            if self._gpu_index is None:
                self._gpu_index = self.faiss.to_gpu(self.index, k)
                self.faiss.set_search_params(self._gpu_index, self.nprobe)
            scores, ids = self.faiss.index_search(self._gpu_index, queries, k)
            return top_ordered(scores, ids, k)
        if self.kind == "ivf":
            return self.faiss.ivf_search(self.index, queries, k, self.nprobe)
        self.faiss.set_search_params(self.index, ef_search=self.ef_search or 2 * k)
        scores, ids = self.faiss.index_search(self.index, queries, k)
        return top_ordered(scores, ids, k)


def recall_at(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """Share of the exact ids ``[Q, K]`` (``-1`` ignored) found in ``approx`` ``[Q, K']``."""
    hits = total = 0
    for a, e in zip(approx.tolist(), exact.tolist(), strict=True):
        wanted = {d for d in e if d >= 0}
        hits += len(wanted & set(a))
        total += len(wanted)
    return hits / total if total else 1.0


def build_searcher(
    docs: torch.Tensor | str | Path | EmbeddingMatrix,
    kind: str = "flat",
    use_gpu: str | bool = "auto",
    cache_path: str | Path | None = None,
    **params,
) -> Searcher:
    """A new searcher of ``kind`` over ``docs`` (counted in :data:`build_counts`).

    Args:
        docs: ``[N, D]`` tensor, ``.npy`` path or :class:`EmbeddingMatrix`.
        kind: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"``.
        use_gpu: ``"auto"``, ``True`` or ``False``.
        cache_path: ``ivf``/``hnsw`` index file (see :class:`FaissSearcher`).
        params: ``block_rows`` (flat); ``nlist``, ``nprobe``, ``hnsw_m``, ``ef_search``, ``seed``.
    """
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {KINDS}, got {kind!r}")
    emb = docs if isinstance(docs, EmbeddingMatrix) else EmbeddingMatrix(docs)
    build_counts[kind] += 1
    if kind == "flat":
        return ExactSearcher(emb, torch_device(use_gpu), **params)
    return FaissSearcher(emb, kind, cache_path=cache_path, use_gpu=use_gpu, **params)


def searcher_for(
    docs: torch.Tensor | EmbeddingMatrix,
    key: str,
    kind: str = "flat",
    use_gpu: str | bool = "auto",
    cache_dir: str | Path | None = None,
    **params,
) -> Searcher:
    """The process's searcher for (``key``, kind, parameters), built on first use.

    Args:
        docs: the documents, used only when the searcher is built.
        key: identifies the embeddings (e.g. their cache key); equal keys, equal matrices.
        kind: ``"flat"``, ``"ivf"`` or ``"hnsw"``.
        use_gpu: ``"auto"``, ``True`` or ``False``.
        cache_dir: ``ivf``/``hnsw`` indexes are written here as ``<key>.<kind>-<params>.faiss``.
        params: index parameters (see :func:`build_searcher`).
    """
    entry = (key, kind, str(use_gpu), tuple(sorted(params.items())))
    if entry in _registry:
        _registry.move_to_end(entry)
        return _registry[entry]
    cache_path = None
    if cache_dir is not None and kind != "flat":
        build = {p: params[p] for p in ("nlist", "hnsw_m", "seed") if p in params}
        tag = "-".join(f"{p}{v}" for p, v in sorted(build.items()))
        cache_path = Path(cache_dir) / f"{key}.{kind}{'-' + tag if tag else ''}.faiss"
    searcher = build_searcher(docs, kind, use_gpu, cache_path, **params)
    _registry[entry] = searcher
    while len(_registry) > REGISTRY_SIZE:
        _registry.popitem(last=False)
    return searcher
