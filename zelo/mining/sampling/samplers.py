"""Samplers: which kept candidates become the N negatives (the ``miner/sampling`` config group).

Each sampler sees the candidates in rank order with their final keep-mask and returns positions
``[Q, N]`` into the candidate axis (``-1`` where a row runs short); picks always come out in rank
order. Every random draw uses the generator it is given, so a fixed seed fixes the picks.

References:
    Zhou et al., SimANS: Simple Ambiguous Negatives Sampling for Dense Text Retrieval,
    arXiv:2210.11773, Sec. 3 (Eq. 4).
"""

from __future__ import annotations

import logging

import torch

from zelo.types import CandidateSet
from zelo.utils.scores import POS_REDUCTIONS, reference_score

log = logging.getLogger(__name__)


def first_kept(keep: torch.Tensor, range_max: int | None) -> torch.Tensor:
    """Restrict ``keep [Q, K]`` to the first ``range_max`` kept candidates of each row.

    Args:
        keep: ``[Q, K]`` bool, candidates in rank order.
        range_max: how many kept candidates stay eligible; ``None`` keeps all.

    Returns:
        ``[Q, K]`` bool, a subset of ``keep``.
    """
    if range_max is None:
        return keep
    return keep & (keep.cumsum(dim=1) <= range_max)


def select_top(keep: torch.Tensor, n: int) -> torch.Tensor:
    """Column indices of the first ``n`` kept candidates per row (``-1`` when too few).

    Args:
        keep: ``[Q, K]`` bool, candidates in rank order.
        n: how many to take.

    Returns:
        ``[Q, n]`` long positions into the K axis.
    """
    q, k = keep.shape
    order = torch.arange(k).expand(q, k)
    key = torch.where(keep, order, order + k)  # kept first, in rank order
    pos = key.argsort(dim=1, stable=True)[:, :n]
    taken = torch.gather(keep, 1, pos)
    out = torch.where(taken, pos, torch.full_like(pos, -1))
    if out.shape[1] < n:
        out = torch.cat([out, torch.full((q, n - out.shape[1]), -1, dtype=torch.long)], dim=1)
    return out


def select_uniform(keep: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` kept candidates per row drawn uniformly without replacement, kept in rank order."""
    noise = torch.rand(keep.shape, generator=generator)
    key = torch.where(keep, noise, torch.full_like(noise, 2.0))
    picked = torch.zeros_like(keep)
    pos = key.argsort(dim=1)[:, :n]
    picked.scatter_(1, pos, torch.gather(keep, 1, pos))
    return select_top(picked, n)


def simans_logits(scores: torch.Tensor, pos_ref: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """SimANS log-weights ``-a * (s - s+ - b)^2`` of every candidate.

    Args:
        scores: ``[Q, K]`` candidate scores (same units as ``pos_ref``).
        pos_ref: ``[Q]`` one reference positive score per query (NaN: no usable positive).
        a: sharpness; the weights are a Gaussian in ``s`` with std ``1 / sqrt(2 a)``.
        b: offset of the peak from the positive's score (``b < 0``: below the positive).

    Returns:
        ``[Q, K]`` float; rows whose ``pos_ref`` is NaN are all zero (uniform weights).
    """
    diff = scores.double() - pos_ref.double().unsqueeze(1) - b  # [Q, K]
    logits = -a * diff.square()
    return torch.where(pos_ref.isnan().unsqueeze(1), torch.zeros_like(logits), logits)


def gumbel_top_n(
    logits: torch.Tensor, keep: torch.Tensor, n: int, generator: torch.Generator
) -> torch.Tensor:
    """Draw ``n`` kept candidates per row without replacement, with probability ∝ ``exp(logits)``.

    Gumbel-top-k: adding Gumbel noise to the log-weights and keeping the ``n`` largest is the
    same as drawing one candidate at a time in proportion to its weight among those left.

    Args:
        logits: ``[Q, K]`` log-weights (finite where ``keep``).
        keep: ``[Q, K]`` bool, eligible candidates.
        n: draws per row (fewer when a row has fewer eligible candidates).
        generator: source of the noise.

    Returns:
        ``[Q, K]`` bool, the picked candidates (a subset of ``keep``).

    References:
        Kool et al., Stochastic Beams and Where to Find Them, arXiv:1903.06059.
    """
    tiny = torch.finfo(torch.float64).tiny
    u = torch.rand(keep.shape, generator=generator, dtype=torch.float64).clamp(min=tiny)
    key = logits.double() - torch.log(-torch.log(u))  # [Q, K]
    key = torch.where(keep, key, torch.full_like(key, float("-inf")))
    picked = torch.zeros_like(keep)
    n = min(n, keep.shape[1])
    if n == 0:
        return picked
    pos = key.topk(n, dim=1).indices  # [Q, n]; ties broken arbitrarily but deterministically
    picked.scatter_(1, pos, torch.gather(keep, 1, pos))
    return picked


class TopSampler:
    """The N best kept candidates (naive top-k).

    Args:
        range_max: sample among the first ``range_max`` kept candidates only (counted after every
            rule); ``None``: all of them.
    """

    def __init__(self, range_max: int | None = None) -> None:
        if range_max is not None and range_max < 1:
            raise ValueError(f"miner.sampling.range_max must be >= 1 or null, got {range_max}")
        self.range_max = range_max

    def __call__(self, cands: CandidateSet, n: int, generator: torch.Generator) -> torch.Tensor:
        """Positions ``[Q, n]`` into the candidate axis (``-1`` when a row runs short)."""
        return select_top(first_kept(cands.keep, self.range_max), n)


class UniformSampler(TopSampler):
    """N kept candidates drawn uniformly without replacement (``range_max`` as :class:`TopSampler`)."""

    def __call__(self, cands: CandidateSet, n: int, generator: torch.Generator) -> torch.Tensor:
        return select_uniform(first_kept(cands.keep, self.range_max), n, generator)


class SimANSSampler(TopSampler):
    """N kept candidates drawn with probability ``∝ exp(-a (s - s+ - b)^2)``.

    ``s+`` is the query's reference positive score (uniform for a query without one).

    Args:
        a: sharpness; the weights are a Gaussian in the score with std ``1 / sqrt(2 a)``, in
            score units. The default 50 (std 0.1) is for cosine scores: MiniLM's top-100
            non-positive cosines spread by a median std of 0.04 per NFCorpus train query, so the
            peak favours candidates within a few spreads of ``s+ + b`` yet still reaches the
            bulk. Rescale it for other score units (BM25, cross-encoder logits).
        b: peak offset from the positive's score (0: at the positive's score, the paper's
            "ambiguous" zone; negative values move it below).
        pos_reduce: reference positive with several: ``"min"``, ``"max"`` or ``"mean"``.
        range_max: as :class:`TopSampler`.

    References:
        Zhou et al., SimANS, arXiv:2210.11773, Sec. 3.
    """

    def __init__(
        self, a: float = 50.0, b: float = 0.0, pos_reduce: str = "min", range_max: int | None = None
    ) -> None:
        super().__init__(range_max)
        if a < 0:
            raise ValueError(f"miner.sampling.a must be >= 0, got {a}")
        if pos_reduce not in POS_REDUCTIONS:
            raise ValueError(f"miner.sampling.pos_reduce must be one of {POS_REDUCTIONS}")
        self.a, self.b, self.pos_reduce = a, b, pos_reduce

    def __call__(self, cands: CandidateSet, n: int, generator: torch.Generator) -> torch.Tensor:
        keep = first_kept(cands.keep, self.range_max)
        ref = reference_score(cands.pos_scores, self.pos_reduce)  # [Q]
        logits = simans_logits(cands.scores, ref, self.a, self.b)  # [Q, K]
        return select_top(gumbel_top_n(logits, keep, n, generator), n)
