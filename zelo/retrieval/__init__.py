"""Search over embeddings, shared by mining and evaluation.

- :mod:`~zelo.retrieval.searcher`: searchers built once per embeddings and queried many times;
- :mod:`~zelo.retrieval.exact`: exact blocked search in torch, in a deterministic order;
- :mod:`~zelo.retrieval.backends`: which backends are here (FAISS imported on first use);
- :mod:`~zelo.retrieval.faiss_index`: IVF and HNSW through FAISS (its only importer,
  imported on first use: exact search needs no FAISS);
- :mod:`~zelo.retrieval.embeddings`: embedding matrices in memory or ``.npy`` files, in blocks;
- :mod:`~zelo.retrieval.cache`: the on-disk embedding cache (chunked, resumable encoding).
"""

from zelo.retrieval.searcher import KINDS, Searcher, build_searcher, searcher_for

__all__ = ["KINDS", "Searcher", "build_searcher", "searcher_for"]
