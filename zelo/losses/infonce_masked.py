"""InfoNCE with guided false-negative masking: a teacher drops candidates it rates above the positive.

Same batch layout as :mod:`zelo.losses.infonce`; the guide (teacher) scores every candidate column,
in-batch and mined alike.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from zelo.losses.infonce import InfoNCELoss, TeacherFn, infonce_logits
from zelo.losses.teacher import column_teacher_scores

log = logging.getLogger(__name__)

MARGIN_MODES = ("absolute", "relative")


def guide_mask(
    teacher_scores: torch.Tensor,
    pos_col: torch.Tensor,
    margin: float = 0.0,
    mode: str = "absolute",
) -> torch.Tensor:
    """Keep-mask of the guide: False where the teacher rates a candidate at or above the positive.

    With ``s`` the teacher's scores and ``s+ = s[i, pos_col[i]]``, candidate ``c`` of query ``i``
    is dropped when ``s[i, c] >= s+ - margin`` (``absolute``) or ``s[i, c] >= s+ * (1 - margin)``
    (``relative``, meant for non-negative scores such as the cosine of a positive). Ties are
    dropped, unlike sentence-transformers' ``GISTEmbedLoss`` (strict ``>``): a candidate the guide
    rates exactly as the positive is a false negative for it (a duplicate of the positive, or a
    hidden relevant document under graded judgments), and it is the same rule as the teacher
    estimate ``fn/teacher_rate`` of the false-negative monitor. The positive's own column always
    stays, and a NaN score (candidate or positive) drops nothing.

    Args:
        teacher_scores: ``[B, C]`` teacher's score of each (query, candidate column).
        pos_col: ``[B]`` column of each query's own positive.
        margin: how far below the positive a candidate may score and still be dropped
            (in the teacher's score units, or a fraction of ``s+`` when relative); negative
            values drop only candidates clearly above the positive.
        mode: ``"absolute"`` or ``"relative"``.

    Returns:
        ``[B, C]`` bool, True where the candidate stays in the softmax.

    References:
        Solatorio, GISTEmbed, arXiv:2402.16829, Sec. 3 (``margin_strategy`` as in
        sentence-transformers' ``GISTEmbedLoss``).
    """
    if mode not in MARGIN_MODES:
        raise ValueError(f"margin mode must be one of {MARGIN_MODES}, got {mode!r}")
    pos = teacher_scores.gather(1, pos_col[:, None])  # [B, 1]
    threshold = pos - margin if mode == "absolute" else pos * (1 - margin)
    above = teacher_scores >= threshold  # [B, C]; NaN compares False
    own = torch.arange(teacher_scores.shape[1], device=pos_col.device)[None, :] == pos_col[:, None]
    return ~above | own


class MaskedInfoNCELoss(InfoNCELoss):
    """InfoNCE whose guide masks likely false negatives among in-batch and mined candidates.

    Args:
        temperature: softmax temperature tau; logits are ``q . d / tau`` (scale = 1 / tau).
        learnable_temperature: learn tau, stored as log(scale).
        in_batch_negatives: score each query against every rank's candidates, not only its own.
        mask_known_positives: drop candidates that are labelled positives of the query.
        min_temperature: lower bound on tau (upper bound on the scale) when learned.
        margin: the guide's margin (see :func:`guide_mask`), in the teacher's score units.
        margin_strategy: ``"absolute"`` or ``"relative"`` (see :func:`guide_mask`).

    The teacher is the miner's scorer unless the DataModule is given another.

    References:
        Solatorio, GISTEmbed, arXiv:2402.16829.
    """

    needs_teacher = True

    def __init__(
        self,
        temperature: float = 0.05,
        learnable_temperature: bool = False,
        in_batch_negatives: bool = True,
        mask_known_positives: bool = True,
        min_temperature: float = 0.01,
        margin: float = 0.0,
        margin_strategy: str = "absolute",
    ) -> None:
        super().__init__(
            temperature,
            learnable_temperature,
            in_batch_negatives,
            mask_known_positives,
            min_temperature,
        )
        if margin_strategy not in MARGIN_MODES:
            raise ValueError(
                f"margin_strategy must be one of {MARGIN_MODES}, got {margin_strategy!r}"
            )
        self.margin = margin
        self.margin_strategy = margin_strategy

    def forward(
        self,
        q: torch.Tensor,
        docs: torch.Tensor,
        doc_ids: torch.Tensor,
        pos_sets: torch.Tensor,
        teacher_scores: torch.Tensor | None = None,
        teacher: TeacherFn | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and stats; arguments as :meth:`InfoNCELoss.forward`, the teacher required.

        Returns:
            Scalar loss and the stats of :meth:`InfoNCELoss.forward` plus ``masked_guide``
            (candidates the guide dropped that were not masked already).
        """
        cands = self.candidates(docs, doc_ids, pos_sets)
        guide = column_teacher_scores(cands, doc_ids, teacher_scores, teacher)  # [B, C]
        keep = guide_mask(guide.to(q.device), cands.labels, self.margin, self.margin_strategy)
        dropped = cands.mask & ~keep
        scale = self.scale
        logits = infonce_logits(q, cands.cands, cands.mask & keep, scale)
        loss = F.cross_entropy(logits, cands.labels)
        stats = self.base_stats(logits, cands, scale)
        stats["masked_guide"] = float(dropped.sum())
        return loss, stats
