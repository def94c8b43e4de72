"""Sampling helpers: which kept candidates become the N negatives.

Each function works on a keep-mask ``[Q, K]`` (candidates in rank order) and returns a mask of
the same shape; :meth:`zelo.mining.base.Miner.sample` turns the final mask into positions with
``select_top``, so picks always come out in rank order. Every random draw uses the generator it
is given, so a fixed seed fixes the picks.

References:
    Zhou et al., SimANS: Simple Ambiguous Negatives Sampling for Dense Text Retrieval,
    arXiv:2210.11773, Sec. 3 (Eq. 4).
"""

from __future__ import annotations

import logging

import torch

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
