"""Naive top-k mining: the N best-scored documents that are not labelled positives.

References:
    Moreira et al., NV-Retriever: Improving text embedding models with effective hard-negative
    mining, arXiv:2407.15831, Sec. 3.2 ("naive top-k").
"""

from __future__ import annotations

import logging

from zelo.mining.base import Miner, Scorer

log = logging.getLogger(__name__)


class TopKMiner(Miner):
    """The scorer's top candidates, labelled positives excluded, no other rule.

    Args:
        scorer: ranks the corpus per query (dense, bm25, ...).
        depth: candidates taken from the scorer per query (K).
        sampling: ``"top"`` (the N best) or ``"uniform"`` (N at random from the top K).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` kept candidates (``None``: all).
        simans_a: SimANS sharpness (``sampling="simans"``, see :class:`~zelo.mining.base.Miner`).
        simans_b: SimANS peak offset.
    """

    name = "topk"

    def __init__(
        self,
        scorer: Scorer,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        super().__init__(scorer, depth, sampling, exclude_positives, range_max, simans_a, simans_b)
