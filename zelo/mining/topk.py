"""Naive top-k mining: the N best-scored documents that are not labelled positives.

References:
    Xiong et al., Approximate Nearest Neighbor Negative Contrastive Learning for Dense Text
    Retrieval (ANCE), arXiv:2007.00808.
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
    """

    name = "topk"

    def __init__(
        self,
        scorer: Scorer,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
    ) -> None:
        super().__init__(scorer, depth, sampling, exclude_positives)
