"""TopK-MarginPos: drop candidates scored within ``margin`` of the positive.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-MarginPos").
"""

from __future__ import annotations

import torch

from zelo.types import CandidateSet
from zelo.utils.ranges import Rule, is_num
from zelo.utils.scores import reference_score

RANGES = {"margin": Rule(lambda x: is_num(x) and x >= 0, "a finite number >= 0")}


def margin_pos_mask(
    cands: CandidateSet, margin: float = 0.05, pos_reduce: str = "min"
) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``s+ - margin``.

    Written ``score + margin > s+`` as in sentence-transformers (``absolute_margin``).

    Args:
        cands: ``scores [Q, K]`` and ``pos_scores [Q, P]`` (NaN padded) are read.
        margin: absolute margin in score units (0.05 in NV-Retriever for cosine).
        pos_reduce: how several positives give ``s+``: ``"min"``, ``"max"`` or ``"mean"``.

    Returns:
        ``[Q, K]`` bool; a query with no scored positive keeps every candidate.
    """
    ref = reference_score(cands.pos_scores, pos_reduce).unsqueeze(1)  # [Q, 1]
    return ~(cands.scores + margin > ref)
