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

import torch

from zelo.mining.base import MiningInput
from zelo.mining.candidates import input_key, sort_candidates
from zelo.mining.random_miner import query_seed
from zelo.mining.topk import TopKMiner

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


def _discount(k: int) -> torch.Tensor:
    return 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)  # [k]


def ideal_dcg(grades: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Per-row ideal DCG@k ``[Q]`` of raw grades ``[Q, N]``."""
    k = min(k, grades.shape[1])
    return (grades.topk(k, dim=1).values * _discount(k)).sum(dim=1)


def mean_ndcg(
    scores: torch.Tensor, grades: torch.Tensor, k: int = 10, ideal: torch.Tensor | None = None
) -> float:
    """Mean nDCG@k (linear gains, trec_eval ``ndcg_cut``) of ranking each row by ``scores``.

    Args:
        scores: ``[Q, N]`` ranking scores.
        grades: ``[Q, N]`` raw grades (the gains).
        k: cut-off.
        ideal: precomputed :func:`ideal_dcg` ``[Q]`` (saves a top-k per call).
    """
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices  # [Q, k]
    dcg = (torch.gather(grades, 1, top) * _discount(k)).sum(dim=1)
    ideal = ideal_dcg(grades, k) if ideal is None else ideal
    ndcg = torch.where(ideal > 0, dcg / ideal.clamp(min=1e-12), torch.zeros_like(dcg))
    return float(ndcg.mean()) if len(ndcg) else math.nan


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
    ideal = ideal_dcg(grades)

    def ndcg(lam: float) -> float:
        return mean_ndcg(lam * gain + (1 - lam) * noise, grades, ideal=ideal)

    r0 = ndcg(0.0)
    if x <= 0.0 or x >= 1.0:
        lam = float(x >= 1.0)
        return lam, ndcg(lam), r0
    target = r0 + x * (1.0 - r0)
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ndcg(mid) < target else (lo, mid)
    return hi, ndcg(hi), r0


class OracleScorer:
    """Knows the full judgments; ``intelligence`` sets how much of them shows through the noise.

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
        if not 0.0 <= intelligence <= 1.0:
            raise ValueError(f"miner.intelligence must be in [0, 1], got {intelligence}")
        if noise not in NOISES:
            raise ValueError(f"miner.noise must be one of {NOISES}, got {noise!r}")
        self.intelligence = float(intelligence)
        self.noise = noise
        self.seed_offset = seed_offset
        self._memo: tuple[str, torch.Tensor] | None = None

    def scores(self, inp: MiningInput) -> torch.Tensor:
        """Oracle scores ``[Q, N]`` (float64) of every document; memoised per input."""
        if inp.judgments is None:
            raise ValueError("miner=oracle needs the full judgments (MiningInput.judgments)")
        key = input_key(inp)
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

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query by oracle score: ids, scores ``[Q, depth]``."""
        scores = self.scores(inp)
        k = min(depth, scores.shape[1])
        top, ids = scores.topk(k, dim=1)
        return sort_candidates(ids, top, depth)

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Oracle scores of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded)."""
        got = torch.gather(self.scores(inp), 1, doc_ids.clamp(min=0)).float()
        return torch.where(doc_ids >= 0, got, torch.full_like(got, float("nan")))


class OracleMiner(TopKMiner):
    """Naive top-k mining with the :class:`OracleScorer` at a set intelligence.

    Args:
        intelligence: x in ``[0, 1]`` (``miner.intelligence``).
        noise: noise distribution of the oracle.
        seed_offset: added to the mining seed for the noise draws.
        depth: candidates taken per query (K).
        sampling: ``"top"``, ``"uniform"`` or ``"simans"`` (see :class:`~zelo.mining.base.Miner`).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` kept candidates only (``None``: all).
        simans_a: SimANS sharpness (``sampling="simans"``).
        simans_b: SimANS peak offset (``sampling="simans"``).
    """

    name = "oracle"

    def __init__(
        self,
        intelligence: float = 1.0,
        noise: str = "gaussian",
        seed_offset: int = 0,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        scorer = OracleScorer(intelligence, noise, seed_offset)
        super().__init__(
            scorer,
            depth,
            sampling,
            exclude_positives,
            range_max=range_max,
            simans_a=simans_a,
            simans_b=simans_b,
        )
