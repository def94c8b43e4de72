"""TopK-PercPos: drop candidates scored above a percentage of the positive's score.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-PercPos").
"""

from __future__ import annotations

import torch

from zelo.types import CandidateSet
from zelo.utils.ranges import Rule, is_num
from zelo.utils.scores import reference_score

RANGES = {"percentage": Rule(lambda x: is_num(x) and 0 < x <= 1, "a number in (0, 1]")}


def perc_pos_mask(
    cands: CandidateSet, percentage: float = 0.95, pos_reduce: str = "min"
) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``percentage`` of the positive's score.

    The threshold is ``s+ - |s+| * (1 - percentage)``: equal to ``s+ * percentage`` when
    ``s+ >= 0`` (always, in practice, for cosine teachers), and still below ``s+`` when
    ``s+ < 0``, where ``s+ * percentage`` would sit above the positive. This is
    sentence-transformers' ``relative_margin = 1 - percentage``.

    Args:
        cands: ``scores [Q, K]`` and ``pos_scores [Q, P]`` (NaN padded) are read.
        percentage: fraction of the positive's score (0.95 in NV-Retriever), in ``[0, 1]``.
        pos_reduce: how several positives give ``s+`` (see
            :func:`zelo.utils.scores.reference_score`): ``"min"``, ``"max"`` or ``"mean"``.

    Returns:
        ``[Q, K]`` bool; a query with no scored positive keeps every candidate.
    """
    ref = reference_score(cands.pos_scores, pos_reduce)  # [Q]
    threshold = ref - ref.abs() * (1.0 - percentage)
    return ~(cands.scores > threshold.unsqueeze(1))
