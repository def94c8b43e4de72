"""Lexical scorer: Okapi BM25 over the corpus with the ``bm25s`` package.

The index of a corpus is built once per process and parameter set (a small in-memory LRU), so
the jobs of a sweep that run in one process share it.

References:
    Robertson and Zaragoza, The Probabilistic Relevance Framework: BM25 and Beyond (2009).
    Lù, BM25S: Orders of magnitude faster lexical search via eager sparse scoring,
    arXiv:2407.03618.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import torch

from zelo.errors import require
from zelo.mining.base import ScorerBase
from zelo.types import MiningInput

if TYPE_CHECKING:
    import bm25s

log = logging.getLogger(__name__)

METHODS = ("robertson", "lucene", "atire", "bm25l", "bm25+")
INDEX_MEMO_SIZE = 2  # corpora whose index stays in memory
ROW_CHUNK = 256  # queries scored against the whole corpus at once
_INDEXES: OrderedDict[str, bm25s.BM25] = OrderedDict()


def _bm25s():
    """The ``bm25s`` package (imported on first use: only the BM25 scorer needs it)."""
    module = require("bm25s", "the BM25 scorer (miner.scorer=bm25, miner=bm25, teacher=bm25)")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import
    return module


def corpus_key(texts: list[str], *params: object) -> str:
    """sha256 hex of the texts (length-prefixed) and the index parameters."""
    h = hashlib.sha256(repr(params).encode())
    for text in texts:
        b = text.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


class BM25Scorer(ScorerBase):
    """BM25 relevance of documents to queries (lower-cased word tokens, no stemming).

    Args:
        k1: term-frequency saturation.
        b: document-length normalisation (0: none, 1: full).
        method: BM25 variant of ``bm25s`` (``lucene``, ``robertson``, ``atire``, ``bm25l``,
            ``bm25+``).
        stopwords: stop-word list name understood by ``bm25s.tokenize`` (``"en"``), or ``None``.

    References:
        Robertson and Zaragoza (2009); BM25S, arXiv:2407.03618.
    """

    name = "bm25"
    softmax_temperature = 1.0  # a BM25 point is a log-odds-like unit

    def __init__(
        self, k1: float = 1.5, b: float = 0.75, method: str = "lucene", stopwords: str | None = "en"
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"miner.scorer.method must be one of {METHODS}, got {method!r}")
        _bm25s()  # fails here, at instantiation, when bm25s is missing
        self.k1 = k1
        self.b = b
        self.method = method
        self.stopwords = stopwords

    def _tokenize(self, texts: list[str], return_ids: bool):
        return _bm25s().tokenize(
            texts, stopwords=self.stopwords, return_ids=return_ids, show_progress=False
        )

    def retriever(self, doc_texts: list[str]) -> bm25s.BM25:
        """The BM25 index of ``doc_texts`` (built on first use, then memoised)."""
        key = corpus_key(doc_texts, self.k1, self.b, self.method, self.stopwords)
        if key in _INDEXES:
            _INDEXES.move_to_end(key)
            return _INDEXES[key]
        start = time.perf_counter()
        retriever = _bm25s().BM25(k1=self.k1, b=self.b, method=self.method)
        retriever.index(self._tokenize(doc_texts, return_ids=True), show_progress=False)
        log.info("bm25: indexed %d docs in %.2f s", len(doc_texts), time.perf_counter() - start)
        _INDEXES[key] = retriever
        while len(_INDEXES) > INDEX_MEMO_SIZE:
            _INDEXES.popitem(last=False)
        return retriever

    def query_scores(self, inp: MiningInput, rows: range) -> torch.Tensor:
        """BM25 scores ``[len(rows), N]`` (float32) of every document for the given queries."""
        retriever = self.retriever(inp.doc_texts)
        tokens = self._tokenize([inp.query_texts[q] for q in rows], return_ids=False)
        out = np.zeros((len(rows), len(inp.doc_texts)), dtype=np.float32)
        for i, words in enumerate(tokens):
            ids = retriever.get_tokens_ids(words)  # words unseen in the corpus are left out
            if ids:
                out[i] = retriever.get_scores_from_ids(ids)
        return torch.from_numpy(out)

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query by BM25 (ties: lower doc index first).

        Returns:
            ids ``[Q, depth]`` (``-1`` padded) and scores ``[Q, depth]`` (``-inf`` padded).
        """
        nq, n = len(inp.query_texts), len(inp.doc_texts)
        k = min(depth, n)
        ids = torch.full((nq, depth), -1, dtype=torch.long)
        scores = torch.full((nq, depth), float("-inf"))
        for start in range(0, nq, ROW_CHUNK):
            rows = range(start, min(start + ROW_CHUNK, nq))
            full = self.query_scores(inp, rows)  # [R, N]
            top, idx = full.sort(dim=1, descending=True, stable=True)
            ids[rows.start : rows.stop, :k] = idx[:, :k]
            scores[rows.start : rows.stop, :k] = top[:, :k]
        return ids, scores

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """BM25 scores of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded)."""
        out = torch.full(doc_ids.shape, float("nan"))
        for start in range(0, doc_ids.shape[0], ROW_CHUNK):
            rows = range(start, min(start + ROW_CHUNK, doc_ids.shape[0]))
            block = doc_ids[rows.start : rows.stop]
            full = self.query_scores(inp, rows)  # [R, N]
            got = torch.gather(full, 1, block.clamp(min=0))
            out[rows.start : rows.stop] = torch.where(block >= 0, got, out[rows.start : rows.stop])
        return out
