"""Random scores: the no-intelligence baseline of random negatives ("Random" in DPR's ablation of negative types).

References:
    Karpukhin et al., Dense Passage Retrieval for Open-Domain Question Answering, arXiv:2004.04906.
"""

from __future__ import annotations

import hashlib
import logging

import torch

from zelo.mining.base import ScorerBase
from zelo.types import MiningInput

log = logging.getLogger(__name__)


def query_seed(seed: int, query: int) -> int:
    """A well-mixed 63-bit generator seed for one ``(seed, query index)`` pair."""
    digest = hashlib.blake2b(f"{seed}:{query}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def random_row(seed: int, query: int, n: int) -> torch.Tensor:
    """Scores ``[n]`` in ``[0, 1)`` (float64) of every document for one query; a pure function."""
    generator = torch.Generator().manual_seed(query_seed(seed, query))
    return torch.rand(n, generator=generator, dtype=torch.float64)


class RandomScorer(ScorerBase):
    """Seeded random relevance: document ``d`` gets the same score for query ``q`` in
    :meth:`rank` and :meth:`score`, fixed by ``(inp.seed, q, d)`` and the corpus size.
    """

    name = "random"
    softmax_temperature = 1.0  # uniform draws in [0, 1): a near-uniform softmax

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query by random score (a random ranking of the corpus)."""
        n, nq = len(inp.doc_texts), len(inp.query_texts)
        k = min(depth, n)
        ids = torch.full((nq, depth), -1, dtype=torch.long)
        scores = torch.full((nq, depth), float("-inf"))
        for q in range(nq):
            top, idx = random_row(inp.seed, q, n).topk(k)  # float64: ties are practically absent
            scores[q, :k], ids[q, :k] = top.float(), idx
        return ids, scores

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Random scores of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded)."""
        out = torch.full(doc_ids.shape, float("nan"))
        n = len(inp.doc_texts)
        for q in range(doc_ids.shape[0]):
            valid = doc_ids[q] >= 0
            if valid.any():
                out[q, valid] = random_row(inp.seed, q, n)[doc_ids[q, valid]].float()
        return out
