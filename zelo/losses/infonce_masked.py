"""InfoNCE with guided false-negative masking: a teacher drops candidates it rates above the positive.

Same batch layout as :mod:`zelo.losses.infonce`; the guide (teacher) scores every candidate column,
in-batch and mined alike.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from zelo.losses.infonce import Candidates, ContrastiveLoss, infonce_logits
from zelo.losses.teacher import column_teacher_scores
from zelo.utils.scores import MARGIN_MODES, at_or_above

log = logging.getLogger(__name__)


def guide_mask(
    teacher_scores: torch.Tensor,
    pos_col: torch.Tensor,
    margin: float = 0.0,
    mode: str = "absolute",
) -> torch.Tensor:
    """Keep-mask of the guide: False where the teacher rates a candidate at or above the positive.

    With ``s`` the teacher's scores and ``s+ = s[i, pos_col[i]]``, candidate ``c`` of query ``i``
    is dropped by :func:`zelo.utils.scores.at_or_above` (``s[i, c] >= s+ - margin``, or
    ``s+ * (1 - margin)`` when relative). Ties are dropped, unlike sentence-transformers'
    ``GISTEmbedLoss`` (strict ``>``): a candidate the guide rates exactly as the positive is a
    false negative for it, and it is the same rule as the teacher estimate ``fn/teacher_rate``
    of the false-negative monitor. The positive's own column always stays, and a NaN score
    (candidate or positive) drops nothing.

    Args:
        teacher_scores: ``[B, C]`` teacher's score of each (query, candidate column).
        pos_col: ``[B]`` column of each query's own positive.
        margin: how far below the positive a candidate may score and still be dropped
            (in the teacher's score units, or a fraction of ``s+`` when relative).
        mode: ``"absolute"`` or ``"relative"``.

    Returns:
        ``[B, C]`` bool, True where the candidate stays in the softmax.

    References:
        Solatorio, GISTEmbed, arXiv:2402.16829, Sec. 3.
    """
    pos = teacher_scores.gather(1, pos_col[:, None])  # [B, 1]
    above = at_or_above(teacher_scores, pos, margin, mode)  # [B, C]
    own = torch.arange(teacher_scores.shape[1], device=pos_col.device)[None, :] == pos_col[:, None]
    return ~above | own


class MaskedInfoNCELoss(ContrastiveLoss):
    """InfoNCE whose guide masks likely false negatives among in-batch and mined candidates.

    Args:
        margin: the guide's margin (see :func:`guide_mask`), in the teacher's score units.
        margin_strategy: ``"absolute"`` or ``"relative"`` (see :func:`guide_mask`).
        **options: the :class:`~zelo.losses.infonce.ContrastiveLoss` arguments.

    The teacher is the miner's scorer unless a ``teacher`` option fixes another.

    References:
        Solatorio, GISTEmbed, arXiv:2402.16829.
    """

    needs_teacher = True

    def __init__(
        self, margin: float = 0.0, margin_strategy: str = "absolute", **options: Any
    ) -> None:
        super().__init__(**options)
        if margin_strategy not in MARGIN_MODES:
            raise ValueError(
                f"loss.margin_strategy must be one of {MARGIN_MODES}, got {margin_strategy!r}"
            )
        self.margin = margin
        self.margin_strategy = margin_strategy

    def objective(
        self, q: torch.Tensor, docs: torch.Tensor, cands: Candidates, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """InfoNCE without the candidates the guide drops; ``masked_guide`` counts those not
        masked already."""
        guide = column_teacher_scores(cands)  # [B, C]
        keep = guide_mask(guide.to(q.device), cands.labels, self.margin, self.margin_strategy)
        logits = infonce_logits(q, cands.cands, cands.mask & keep, scale)
        dropped = cands.mask & ~keep
        return F.cross_entropy(logits, cands.labels), logits, {"masked_guide": float(dropped.sum())}
