"""The intelligence dial: an oracle scorer that mixes the true grades with seeded noise.

Scores are ``s = λ · g(d, q) + (1 − λ) · ε`` where ``g`` is the full judgment's grade divided by
the query's top grade (so ``g ∈ [0, 1]``, 0 for unjudged documents) and ``ε`` is seeded noise.

Why ``λ`` is a calibrated function of the intelligence ``x`` rather than ``x`` itself: with
``λ = x`` the measured ``miner/ndcg@10`` is a steep sigmoid in ``x`` whose location depends on the
corpus size N (a relevant document must beat the largest of ~N noise draws, about
``sqrt(2 ln N)`` standard deviations for Gaussian noise), so most settings of ``x`` would be
random-level or perfect. Instead ``λ(x)`` is the monotone map for which the oracle's own
nDCG@10 on the queries it mines equals ``r0 + x · (1 − r0)``, where ``r0`` is the nDCG@10 of the
noise-only ranking (``λ = 0``). ``λ`` is found by bisection on ``[0, 1]`` with the noise draws
held fixed (common random numbers), so ``x = 0`` is exactly the noise ranking, ``x = 1`` exactly
the graded order (nDCG@10 = 1), and intermediate ``x`` spread evenly over the measured
intelligence axis on any collection.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831 (the false-negative problem this dial probes).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

from zelo.eval.metrics import ideal_dcg, ndcg_from_gains
from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import input_key, sort_candidates
from zelo.mining.scorers.random_scorer import query_seed
from zelo.types import MiningInput

log = logging.getLogger(__name__)

NOISES = ("gaussian", "uniform", "gumbel")


def grade_matrix(judgments: list[dict[int, int]], n: int) -> torch.Tensor:
    """Raw grades ``[Q, N]`` (float64, 0 for unjudged or non-positive grades)."""
    out = torch.zeros(len(judgments), n, dtype=torch.float64)
    for q, judged in enumerate(judgments):
        for d, grade in judged.items():
            out[q, d] = max(float(grade), 0.0)
    return out


def noise_matrix(seed: int, num_queries: int, n: int, kind: str = "gaussian") -> torch.Tensor:
    """Seeded noise ``[Q, N]`` (float64); row ``q`` depends only on ``(seed, q, n, kind)``."""
    out = torch.empty(num_queries, n, dtype=torch.float64)
    for q in range(num_queries):
        gen = torch.Generator().manual_seed(query_seed(seed, q))
        if kind == "gaussian":
            out[q] = torch.randn(n, generator=gen, dtype=torch.float64)
            continue
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        out[q] = -torch.log(-torch.log(u.clamp(1e-12, 1 - 1e-12))) if kind == "gumbel" else u
    return out


def dense_ndcg(
    scores: torch.Tensor, grades: torch.Tensor, ideal: torch.Tensor, k: int = 10
) -> float:
    """Mean nDCG@k of ranking each row of a dense score matrix ``[Q, N]`` against raw grades
    ``[Q, N]``; ``ideal`` is each row's ideal DCG@k ``[Q]`` (:func:`zelo.eval.metrics.ideal_dcg`)."""
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices  # [Q, k]
    ndcg = ndcg_from_gains(torch.gather(grades, 1, top), ideal, k)
    return float(ndcg.mean()) if len(ndcg) else math.nan


def bisect(fn: Callable[[float], float], target: float, iters: int = 24) -> float:
    """The smallest ``t`` in ``[0, 1]`` (to ``2**-iters``) with ``fn(t) >= target``; ``fn`` rising."""
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fn(mid) < target else (lo, mid)
    return hi


def calibrate(
    gain: torch.Tensor, noise: torch.Tensor, grades: torch.Tensor, x: float, iters: int = 24
) -> tuple[float, float, float]:
    """The mixing weight λ whose nDCG@10 is ``r0 + x (1 - r0)``, by bisection on ``[0, 1]``.

    Args:
        gain: ``[Q, N]`` normalised grades ``g``.
        noise: ``[Q, N]`` noise ``ε`` (held fixed).
        grades: ``[Q, N]`` raw grades (the nDCG gains).
        x: intelligence in ``[0, 1]``.
        iters: bisection steps.

    Returns:
        ``(λ, achieved nDCG@10, r0)``.
    """
    ideal = ideal_dcg(grades, 10)

    def ndcg(lam: float) -> float:
        return dense_ndcg(lam * gain + (1 - lam) * noise, grades, ideal)

    r0 = ndcg(0.0)
    if x <= 0.0 or x >= 1.0:
        lam = float(x >= 1.0)
        return lam, ndcg(lam), r0
    lam = bisect(ndcg, r0 + x * (1.0 - r0), iters)
    return lam, ndcg(lam), r0


class DialBase(ScorerBase):
    """A calibrated dial over dense scores ``[Q, N]``: the ``intelligence`` knob, and ``rank`` /
    ``score`` read off :meth:`scores` (which subclasses implement, memoised per input and knob)."""

    reads_judgments = True  # the calibration reads the full judgments: a control

    @property
    def intelligence(self) -> float:
        """x in ``[0, 1]``; setting it re-calibrates on the next call."""
        return self._intelligence

    @intelligence.setter
    def intelligence(self, x: float) -> None:
        if not 0.0 <= float(x) <= 1.0:
            raise ValueError(f"miner.scorer.intelligence must be in [0, 1], got {x}")
        self._intelligence = float(x)

    def scores(self, inp: MiningInput) -> torch.Tensor:
        """Scores ``[Q, N]`` (float64) of every document."""
        raise NotImplementedError

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query by score: ids, scores ``[Q, depth]``."""
        scores = self.scores(inp)
        top, ids = scores.topk(min(depth, scores.shape[1]), dim=1)
        return sort_candidates(ids, top, depth)

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Scores of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded)."""
        got = torch.gather(self.scores(inp), 1, doc_ids.clamp(min=0)).float()
        return torch.where(doc_ids >= 0, got, torch.full_like(got, float("nan")))


class OracleScorer(DialBase):
    """Knows the full judgments; ``intelligence`` sets how much of them shows through the noise.

    A control, never a method: it reads the full judgments of the training queries. What it
    cannot show: its gain is 0 for every non-relevant document, so it ranks the non-relevant
    documents by noise alone. Its negatives are random documents plus hidden positives, never
    hard *true* negatives, and a curve along this dial runs from "random" to "false negatives":
    it falls whatever the student does. The hardness dial (``miner=dial``) walks through a real
    scorer's near-misses instead.

    Args:
        intelligence: x in ``[0, 1]``: 0 ranks by noise alone, 1 by the true grades; in between,
            the measured nDCG@10 is ``r0 + x (1 - r0)`` (see the module docstring).
        noise: ``"gaussian"``, ``"uniform"`` or ``"gumbel"``.
        seed_offset: added to the mining seed for the noise draws.
    """

    name = "oracle"
    softmax_temperature = 0.05  # relevance gain in [0, 1], on the cosine scale

    def __init__(
        self, intelligence: float = 1.0, noise: str = "gaussian", seed_offset: int = 0
    ) -> None:
        if noise not in NOISES:
            raise ValueError(f"miner.scorer.noise must be one of {NOISES}, got {noise!r}")
        self.intelligence = float(intelligence)
        self.noise = noise
        self.seed_offset = seed_offset
        self._memo: tuple[str, torch.Tensor] | None = None

    def scores(self, inp: MiningInput) -> torch.Tensor:
        """Oracle scores ``[Q, N]`` (float64) of every document; memoised per input."""
        if inp.judgments is None:
            raise ValueError("miner=oracle needs the full judgments (MiningInput.judgments)")
        key = f"{input_key(inp)}|{self.intelligence!r}"
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        n = len(inp.doc_texts)
        grades = grade_matrix(inp.judgments, n)
        gain = grades / grades.amax(dim=1, keepdim=True).clamp(min=1e-12)
        noise = noise_matrix(inp.seed + self.seed_offset, len(inp.query_texts), n, self.noise)
        lam, achieved, r0 = calibrate(gain, noise, grades, self.intelligence)
        log.info(
            "oracle: intelligence %.3f -> weight %.4f, nDCG@10 %.4f (noise alone %.4f)",
            self.intelligence,
            lam,
            achieved,
            r0,
        )
        out = lam * gain + (1 - lam) * noise
        self._memo = (key, out)
        return out
