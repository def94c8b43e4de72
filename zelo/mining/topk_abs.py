"""TopK-Abs: top-k negatives whose score stays at or below an absolute threshold.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-Abs").
"""

from __future__ import annotations

import logging

import torch

from zelo.mining.base import Miner, Scorer

log = logging.getLogger(__name__)


def abs_mask(scores: torch.Tensor, max_score: float) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``max_score``.

    Args:
        scores: ``[Q, K]`` candidate scores (cosine for the dense scorers).
        max_score: the threshold; a candidate scored exactly at it is kept.

    Returns:
        ``[Q, K]`` bool, True where ``score <= max_score`` (padding at ``-inf`` is kept).
    """
    return ~(scores > max_score)


class TopKAbsMiner(Miner):
    """The scorer's top candidates, without those scored above ``max_score``.

    Args:
        scorer: ranks the corpus per query.
        max_score: absolute score threshold (0.7 in NV-Retriever for cosine scores).
        depth: candidates taken from the scorer per query (K).
        sampling: ``"top"``, ``"uniform"`` or ``"simans"`` (see :class:`Miner`).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` candidates left after the rule.
        simans_a: SimANS sharpness.
        simans_b: SimANS peak offset.

    References:
        NV-Retriever, arXiv:2407.15831, Sec. 3.
    """

    name = "abs"

    def __init__(
        self,
        scorer: Scorer,
        max_score: float = 0.7,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        super().__init__(scorer, depth, sampling, exclude_positives, range_max, simans_a, simans_b)
        self.max_score = max_score

    def rules(
        self, scores: torch.Tensor, pos_scores: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"abs": abs_mask(scores, self.max_score)}
