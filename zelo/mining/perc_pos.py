"""TopK-PercPos: top-k negatives scored below a percentage of the positive's score.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-PercPos").
"""

from __future__ import annotations

import logging

import torch

from zelo.mining.base import POS_REDUCTIONS, Miner, Scorer, reference_score

log = logging.getLogger(__name__)


def perc_pos_mask(
    scores: torch.Tensor, pos_scores: torch.Tensor, percentage: float, pos_reduce: str = "min"
) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``percentage`` of the positive's score.

    The threshold is ``s+ - |s+| * (1 - percentage)``: equal to ``s+ * percentage`` when
    ``s+ >= 0`` (always, in practice, for cosine teachers), and still below ``s+`` when
    ``s+ < 0``, where ``s+ * percentage`` would sit above the positive. This is
    sentence-transformers' ``relative_margin = 1 - percentage``.

    Args:
        scores: ``[Q, K]`` candidate scores.
        pos_scores: ``[Q, P]`` labelled positives' scores (NaN padded, P may vary per query).
        percentage: fraction of the positive's score (0.95 in NV-Retriever).
        pos_reduce: how several positives give ``s+`` (see
            :func:`zelo.mining.base.reference_score`): ``"min"``, ``"max"`` or ``"mean"``.

    Returns:
        ``[Q, K]`` bool; a query with no scored positive keeps every candidate.
    """
    ref = reference_score(pos_scores, pos_reduce)  # [Q]
    threshold = ref - ref.abs() * (1.0 - percentage)
    return ~(scores > threshold.unsqueeze(1))


class PercPosMiner(Miner):
    """The scorer's top candidates, without those above ``percentage`` of the positive's score.

    Args:
        scorer: ranks the corpus per query.
        percentage: maximum negative score as a fraction of the reference positive score.
        pos_reduce: reference positive when a query has several: ``"min"`` (default, like
            sentence-transformers), ``"max"`` or ``"mean"``.
        depth: candidates taken from the scorer per query (K).
        sampling: ``"top"``, ``"uniform"`` or ``"simans"`` (see :class:`Miner`).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` candidates left after the rule.
        simans_a: SimANS sharpness.
        simans_b: SimANS peak offset.

    References:
        NV-Retriever, arXiv:2407.15831, Sec. 3.
    """

    name = "percpos"

    def __init__(
        self,
        scorer: Scorer,
        percentage: float = 0.95,
        pos_reduce: str = "min",
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        super().__init__(scorer, depth, sampling, exclude_positives, range_max, simans_a, simans_b)
        if pos_reduce not in POS_REDUCTIONS:
            raise ValueError(
                f"miner.pos_reduce must be one of {POS_REDUCTIONS}, got {pos_reduce!r}"
            )
        self.percentage = percentage
        self.pos_reduce = pos_reduce

    def rules(
        self, scores: torch.Tensor, pos_scores: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"perc_pos": perc_pos_mask(scores, pos_scores, self.percentage, self.pos_reduce)}
