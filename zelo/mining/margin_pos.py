"""TopK-MarginPos: top-k negatives scored at least ``margin`` below the positive.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("TopK-MarginPos").
"""

from __future__ import annotations

import logging

import torch

from zelo.mining.base import POS_REDUCTIONS, Miner, Scorer, reference_score

log = logging.getLogger(__name__)


def margin_pos_mask(
    scores: torch.Tensor, pos_scores: torch.Tensor, margin: float, pos_reduce: str = "min"
) -> torch.Tensor:
    """Keep-mask that drops candidates scored above ``s+ - margin``.

    Written ``score + margin > s+`` as in sentence-transformers (``absolute_margin``).

    Args:
        scores: ``[Q, K]`` candidate scores.
        pos_scores: ``[Q, P]`` labelled positives' scores (NaN padded, P may vary per query).
        margin: absolute margin in score units (0.05 in NV-Retriever for cosine).
        pos_reduce: how several positives give ``s+`` (see
            :func:`zelo.mining.base.reference_score`): ``"min"``, ``"max"`` or ``"mean"``.

    Returns:
        ``[Q, K]`` bool; a query with no scored positive keeps every candidate.
    """
    ref = reference_score(pos_scores, pos_reduce).unsqueeze(1)  # [Q, 1]
    return ~(scores + margin > ref)


class MarginPosMiner(Miner):
    """The scorer's top candidates, without those within ``margin`` of the positive's score.

    Args:
        scorer: ranks the corpus per query.
        margin: absolute margin below the reference positive score.
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

    name = "marginpos"

    def __init__(
        self,
        scorer: Scorer,
        margin: float = 0.05,
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
        self.margin = margin
        self.pos_reduce = pos_reduce

    def rules(
        self, scores: torch.Tensor, pos_scores: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"margin_pos": margin_pos_mask(scores, pos_scores, self.margin, self.pos_reduce)}
