"""Debiased contrastive loss: the negatives' sum corrected for a class prior of false negatives.

Same batch layout and candidates as :mod:`zelo.losses.infonce`: a query's negatives are its valid
candidate columns (in-batch and mined) other than its own positive; masked columns (padding,
known positives) are not counted in N.
"""

from __future__ import annotations

import logging

import torch

from zelo.losses.infonce import InfoNCELoss, TeacherFn, infonce_logits

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


class DebiasedContrastiveLoss(InfoNCELoss):
    """InfoNCE over in-batch and mined negatives, debiased for a class prior tau+.

    Args:
        temperature: softmax temperature tau; logits are ``q . d / tau`` (scale = 1 / tau).
        learnable_temperature: learn tau, stored as log(scale).
        in_batch_negatives: score each query against every rank's candidates, not only its own.
        mask_known_positives: drop candidates that are labelled positives of the query.
        min_temperature: lower bound on tau (upper bound on the scale) when learned.
        tau_plus: class prior tau+ in [0, 1): the probability that a negative is in fact
            relevant (0: plain InfoNCE).
        min_similarity: the smallest query-document similarity (-1 for cosine); the estimate
            of the negatives' sum is floored at ``N * exp(scale * min_similarity)``.

    References:
        Chuang et al., Debiased Contrastive Learning, NeurIPS 2020, arXiv:2007.00224.
    """

    def __init__(
        self,
        temperature: float = 0.05,
        learnable_temperature: bool = False,
        in_batch_negatives: bool = True,
        mask_known_positives: bool = True,
        min_temperature: float = 0.01,
        tau_plus: float = 0.1,
        min_similarity: float = -1.0,
    ) -> None:
        super().__init__(
            temperature,
            learnable_temperature,
            in_batch_negatives,
            mask_known_positives,
            min_temperature,
        )
        if not 0 <= tau_plus < 1:
            raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")
        self.tau_plus = tau_plus
        self.min_similarity = min_similarity

    def forward(
        self,
        q: torch.Tensor,
        docs: torch.Tensor,
        doc_ids: torch.Tensor,
        pos_sets: torch.Tensor,
        teacher_scores: torch.Tensor | None = None,
        teacher: TeacherFn | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and stats; arguments as :meth:`InfoNCELoss.forward` (no teacher used).

        Returns:
            Scalar loss and the stats of :meth:`InfoNCELoss.forward` plus ``clamped`` (share
            of queries whose negatives' estimate sat at its floor).
        """
        cands = self.candidates(docs, doc_ids, pos_sets)
        scale = self.scale
        logits = infonce_logits(q, cands.cands, cands.mask, scale)
        floor_logit = scale * self.min_similarity
        loss, clamped = debiased_loss(logits, cands.labels, cands.mask, self.tau_plus, floor_logit)
        stats = self.base_stats(logits, cands, scale)
        stats["clamped"] = float(clamped.float().mean())
        return loss, stats
