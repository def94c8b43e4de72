"""Soft-label distillation: the teacher's softmax over a query's own candidates as the target.

Same batch layout as :mod:`zelo.losses.infonce`. The KL term covers each query's positive and its
own mined negatives (not the in-batch columns, which the teacher scores on no common footing);
the optional InfoNCE term keeps the in-batch negatives.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from zelo.losses.infonce import Candidates, ContrastiveLoss, candidate_mask, infonce_logits
from zelo.losses.teacher import own_teacher_scores
from zelo.types import BatchTeacher

log = logging.getLogger(__name__)


def distill_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """``KL(p_teacher || p_student)`` over the valid columns, mean over queries that have one.

    Args:
        student_logits: ``[B, K]`` student logits (scale * similarity).
        teacher_logits: ``[B, K]`` teacher logits (teacher score / teacher temperature).
        mask: ``[B, K]`` bool, True where the column enters both softmaxes.

    Returns:
        Scalar: ``sum_c p_T(c) (log p_T(c) - log p_S(c))``, averaged over queries with at least
        one valid column (0 when none has).

    References:
        Hinton et al., Distilling the Knowledge in a Neural Network, arXiv:1503.02531.
    """
    rows = mask.any(dim=1, keepdim=True)  # [B, 1]
    cols = mask | ~rows  # an empty row gets finite (zero) logits, then weighs 0
    student_logits = student_logits.masked_fill(~mask, 0.0).masked_fill(~cols, float("-inf"))
    teacher_logits = teacher_logits.masked_fill(~mask, 0.0).masked_fill(~cols, float("-inf"))
    log_ps, log_pt = student_logits.log_softmax(dim=1), teacher_logits.log_softmax(dim=1)
    log_ps, log_pt = log_ps.masked_fill(~cols, 0.0), log_pt.masked_fill(~cols, 0.0)
    kl = (log_pt.exp() * (log_pt - log_ps)).masked_fill(~cols, 0.0).sum(dim=1)  # [B]
    kl = kl * rows.squeeze(1)
    return kl.sum() / rows.sum().clamp(min=1)


class DistillLoss(ContrastiveLoss):
    """``alpha * KL(teacher || student) + (1 - alpha) * InfoNCE``.

    The student's distribution is the softmax of ``scale * q . d`` over the query's positive and
    its own negatives; the teacher's is the softmax of ``score / teacher_temperature`` over the
    same documents (padding, known positives and unscored documents left out of both).

    Args:
        teacher_temperature: the teacher's softmax temperature, in its score units (e.g. about
            0.05 for cosine scores; ``400 / ln 10 ≈ 173.7`` turns Elo points into Bradley–Terry
            odds). ``None``: the batch teacher's own ``softmax_temperature``.
        alpha: weight of the KL term in [0, 1] (1: soft labels only; then the student sees no
            in-batch negatives, only each query's own 1 + N documents).
        **options: the :class:`~zelo.losses.infonce.ContrastiveLoss` arguments (the student's
            temperature is shared by the KL and the InfoNCE terms).

    References:
        Hinton et al., arXiv:1503.02531; RocketQAv2, arXiv:2110.07367; zELO's pointwise
        scores, arXiv:2509.12541.
    """

    needs_teacher = True

    def __init__(
        self, teacher_temperature: float | None = None, alpha: float = 0.5, **options: Any
    ) -> None:
        super().__init__(**options)
        if teacher_temperature is not None and not teacher_temperature > 0:
            raise ValueError(f"loss.teacher_temperature must be > 0, got {teacher_temperature}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"loss.alpha must be in [0, 1], got {alpha}")
        self.teacher_temperature = teacher_temperature
        self.alpha = alpha

    def effective_teacher_temperature(self, teacher: BatchTeacher | None = None) -> float:
        """The temperature in use: the configured one, else the batch teacher's.

        Raises:
            ValueError: neither is set.
        """
        if self.teacher_temperature is not None:
            return self.teacher_temperature
        t = None if teacher is None else teacher.softmax_temperature
        if t is None or not t > 0:
            raise ValueError(
                "loss.teacher_temperature is null and the batch carries no teacher with a "
                "softmax_temperature > 0; set loss.teacher_temperature"
            )
        return float(t)

    def objective(
        self, q: torch.Tensor, docs: torch.Tensor, cands: Candidates, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The mixed loss; stats ``kl`` and ``infonce`` (the two terms before weighting) and the
        ``teacher_temperature`` used."""
        logits = infonce_logits(q, cands.cands, cands.mask, scale)
        nce = F.cross_entropy(logits, cands.labels)
        target = own_teacher_scores(cands).to(q.device)  # [B, 1+N]
        own = torch.zeros(len(q), dtype=torch.long, device=q.device)
        mask = candidate_mask(cands.doc_ids, own, cands.pos_sets) & ~target.isnan()  # [B, 1+N]
        student = infonce_logits(q, docs, mask, scale)
        teacher_t = self.effective_teacher_temperature(cands.teacher)
        kl = distill_kl(student, target / teacher_t, mask)
        loss = self.alpha * kl + (1 - self.alpha) * nce
        extra = {"kl": float(kl.detach()), "infonce": float(nce.detach())}
        return loss, logits, {**extra, "teacher_temperature": teacher_t}
