"""TopK-Abs: drop candidates scored above an absolute threshold.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-Abs").
"""

from __future__ import annotations

import torch

from zelo.types import CandidateSet


def abs_mask(cands: CandidateSet, max_score: float = 0.7) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``max_score``.

    Args:
        cands: ``scores [Q, K]`` is read (cosine for the dense scorers).
        max_score: the threshold (0.7 in NV-Retriever); a candidate scored exactly at it is kept.

    Returns:
        ``[Q, K]`` bool, True where ``score <= max_score`` (padding at ``-inf`` is kept).
    """
    return ~(cands.scores > max_score)
