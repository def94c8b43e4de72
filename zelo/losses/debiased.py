"""Debiased contrastive loss: the negatives' sum corrected for a class prior of false negatives.

Same batch layout and candidates as :mod:`zelo.losses.infonce`: a query's negatives are its valid
candidate columns (in-batch and mined) other than its own positive; masked columns (padding,
known positives) are not counted in N.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from zelo.losses.infonce import Candidates, ContrastiveLoss, infonce_logits

log = logging.getLogger(__name__)


def debiased_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    tau_plus: float = 0.1,
    floor_logit: torch.Tensor | float = -20.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Debiased contrastive loss over masked candidate logits.

    With ``l`` the logits (scale * similarity), ``l+`` the positive's and N the row's valid
    negatives: ``Ng = max((sum_neg e^l - tau_plus * N * e^{l+}) / (1 - tau_plus),
    N * e^{floor_logit})`` and the loss is ``-log(e^{l+} / (e^{l+} + Ng))``, computed after
    subtracting each row's largest logit. ``tau_plus = 0`` gives InfoNCE whenever every valid
    logit is at least ``floor_logit``.

    Args:
        logits: ``[B, C]`` logits, any value where ``mask`` is False.
        labels: ``[B]`` column of each query's positive.
        mask: ``[B, C]`` bool, True for the positive and the valid negatives.
        tau_plus: class prior tau+, the expected share of false negatives, in [0, 1).
        floor_logit: the smallest possible logit, ``scale * min_similarity``; the paper's
            ``e^{-1/t}`` is ``floor_logit = -1/t`` (cosine similarity, temperature t).

    Returns:
        Scalar loss (mean over queries) and ``[B]`` bool, True where Ng sat at its floor.

    References:
        Chuang et al., Debiased Contrastive Learning, NeurIPS 2020, arXiv:2007.00224, Eq. (6).
    """
    own = torch.zeros_like(mask).scatter_(1, labels[:, None], True)  # [B, C]
    neg = mask & ~own
    logits = logits.masked_fill(~mask, float("-inf"))
    top = logits.max(dim=1, keepdim=True).values.detach()  # [B, 1]
    pos = logits.gather(1, labels[:, None]) - top  # [B, 1]
    n = neg.sum(dim=1, keepdim=True).to(logits.dtype)  # [B, 1]
    neg_sum = (logits - top).exp().masked_fill(~neg, 0.0).sum(dim=1, keepdim=True)
    estimate = (neg_sum - tau_plus * n * pos.exp()) / (1 - tau_plus)
    floor = n * torch.exp(floor_logit - top)
    ng = torch.maximum(estimate, floor)  # [B, 1]
    loss = torch.log(pos.exp() + ng) - pos
    return loss.mean(), (estimate < floor).squeeze(1)


class DebiasedContrastiveLoss(ContrastiveLoss):
    """InfoNCE over in-batch and mined negatives, debiased for a class prior tau+.

    Args:
        tau_plus: class prior tau+ in [0, 1): the probability that a negative is in fact
            relevant (0: plain InfoNCE).
        min_similarity: the smallest query-document similarity (-1 for cosine); the estimate
            of the negatives' sum is floored at ``N * exp(scale * min_similarity)``.
        **options: the :class:`~zelo.losses.infonce.ContrastiveLoss` arguments.

    References:
        Chuang et al., Debiased Contrastive Learning, NeurIPS 2020, arXiv:2007.00224.
    """

    def __init__(self, tau_plus: float = 0.1, min_similarity: float = -1.0, **options: Any) -> None:
        super().__init__(**options)
        if not 0 <= tau_plus < 1:
            raise ValueError(f"loss.tau_plus must be in [0, 1), got {tau_plus}")
        self.tau_plus = tau_plus
        self.min_similarity = min_similarity

    def objective(
        self, q: torch.Tensor, docs: torch.Tensor, cands: Candidates, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The debiased loss; ``clamped`` is the share of queries whose negatives' estimate
        sat at its floor."""
        logits = infonce_logits(q, cands.cands, cands.mask, scale)
        floor_logit = scale * self.min_similarity
        loss, clamped = debiased_loss(logits, cands.labels, cands.mask, self.tau_plus, floor_logit)
        return loss, logits, {"clamped": float(clamped.float().mean())}
