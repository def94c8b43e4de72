"""TopK-Abs: drop candidates scored above an absolute threshold.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-Abs").
"""

from __future__ import annotations

import torch

from zelo.types import CandidateSet


def abs_mask(
    cands: CandidateSet, max_score: float = 0.7, min_score: float | None = None
) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``max_score`` (and below ``min_score``).

    Args:
        cands: ``scores [Q, K]`` is read (cosine for the dense scorers).
        max_score: the threshold (0.7 in NV-Retriever); a candidate scored exactly at it is kept.
        min_score: drop candidates scored below it too (``mine_hard_negatives``'s ``min_score``);
            a candidate scored exactly at it is kept; ``None``: no lower bound.

    Returns:
        ``[Q, K]`` bool, True where ``min_score <= score <= max_score`` (padding at ``-inf`` is
        kept: it is no candidate to drop).
    """
    keep = ~(cands.scores > max_score)
    if min_score is not None:
        padding = cands.scores == float("-inf")
        keep &= ~(cands.scores < min_score) | padding
    return keep
