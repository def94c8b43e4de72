"""Top-k shifted by N: skip the first ``shift`` candidates, then take the top negatives.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("top-k shifted by N").
"""

from __future__ import annotations

import torch

from zelo.types import CandidateSet
from zelo.utils.ranges import at_least

RANGES = {"shift": at_least(0)}


def shift_mask(cands: CandidateSet, shift: int = 10) -> torch.Tensor:
    """Keep-mask that drops the first ``shift`` candidates still in play in each row.

    Ranks count only candidates that are still kept (labelled positives, padding and earlier
    rules excluded), as sentence-transformers' ``mine_hard_negatives(range_min=shift)`` counts
    them when no score filter is set.

    Args:
        cands: ``keep [Q, K]`` is read (candidates in rank order).
        shift: how many leading candidates to drop (0: none).

    Returns:
        ``[Q, K]`` bool, False on the first ``shift`` kept candidates of each row.
    """
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}")
    rank = cands.keep.cumsum(dim=1)  # [Q, K] 1-based rank among kept candidates
    return ~(cands.keep & (rank <= shift))
