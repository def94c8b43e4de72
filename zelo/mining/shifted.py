"""Top-k shifted by N: skip the first ``shift`` candidates, then take the top negatives.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3 ("top-k shifted by N").
"""

from __future__ import annotations

import logging

import torch

from zelo.mining.base import Miner, Scorer

log = logging.getLogger(__name__)


def shift_mask(valid: torch.Tensor, shift: int) -> torch.Tensor:
    """Keep-mask that drops the first ``shift`` valid candidates of each row.

    Ranks count only candidates that are still valid (labelled positives and padding excluded),
    as sentence-transformers' ``mine_hard_negatives(range_min=shift)`` counts them when no score
    filter is set. (Combined with a score filter there, ``range_min`` counts after that filter
    too; here the shift is its own rule and counts what survived positive exclusion.)

    Args:
        valid: ``[Q, K]`` bool, candidates still in play, in rank order.
        shift: how many leading valid candidates to drop (0: none).

    Returns:
        ``[Q, K]`` bool, False on the first ``shift`` valid candidates of each row.
    """
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}")
    rank = valid.cumsum(dim=1)  # [Q, K] 1-based rank among valid candidates
    return ~(valid & (rank <= shift))


class ShiftedMiner(Miner):
    """The scorer's top candidates after skipping the ``shift`` best non-positives.

    Args:
        scorer: ranks the corpus per query.
        shift: leading candidates skipped (counted after positive exclusion).
        depth: candidates taken from the scorer per query (K); needs ``shift + N`` non-positives.
        sampling: ``"top"``, ``"uniform"`` or ``"simans"`` (see :class:`Miner`).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` candidates left after the shift.
        simans_a: SimANS sharpness.
        simans_b: SimANS peak offset.

    References:
        NV-Retriever, arXiv:2407.15831, Sec. 3.
    """

    name = "shifted"

    def __init__(
        self,
        scorer: Scorer,
        shift: int = 10,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        super().__init__(scorer, depth, sampling, exclude_positives, range_max, simans_a, simans_b)
        if shift < 0:
            raise ValueError(f"miner.shift must be >= 0, got {shift}")
        self.shift = shift

    def rules(
        self, scores: torch.Tensor, pos_scores: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"shift": shift_mask(valid, self.shift)}
