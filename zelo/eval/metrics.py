"""IR metrics with trec_eval semantics, per query and over a ranking matrix.

Conventions (those of trec_eval's ``ndcg_cut``, ``recall`` and ``recip_rank``): a document is
relevant when its grade is > 0; nDCG's gain is the grade itself with discount ``log2(rank + 1)``
and its ideal DCG is computed from all judged grades; a query with no relevant document scores 0.
Ids ``< 0`` in a ranking are padding and are skipped; ids are assumed unique within a ranking.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch

log = logging.getLogger(__name__)


def _valid(ranked: Sequence[int], k: int) -> list[int]:
    """The first ``k`` real (non-negative) ids of a ranking."""
    return [int(d) for d in ranked if d >= 0][:k]


def ndcg_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 10) -> float:
    """nDCG@k with linear gains (trec_eval ``ndcg_cut_k``).

    Args:
        ranked: doc ids, best first (``-1`` padding skipped).
        judgments: doc id -> grade; grades <= 0 count as not relevant.
        k: cut-off.
    """
    grades = sorted((g for g in judgments.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(grades))
    if ideal == 0:
        return 0.0
    dcg = sum(
        max(judgments.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(_valid(ranked, k))
    )
    return dcg / ideal


def recall_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top ``k`` (trec_eval ``recall_k``)."""
    relevant = {d for d, g in judgments.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_valid(ranked, k))) / len(relevant)


def mrr_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top ``k``, else 0."""
    for i, d in enumerate(_valid(ranked, k)):
        if judgments.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate_ranking(
    ranking: torch.Tensor,
    judgments: list[dict[int, int]],
    ndcg_k: int = 10,
    recall_k: int = 100,
    mrr_k: int = 10,
) -> dict[str, list[float]]:
    """Per-query metrics of a ranking matrix.

    Args:
        ranking: ``[Q, K]`` doc ids, best first, ``-1`` padded.
        judgments: per query, doc id -> grade.
        ndcg_k, recall_k, mrr_k: cut-offs; they name the keys.

    Returns:
        ``{"ndcg@<ndcg_k>": [Q], "recall@<recall_k>": [Q], "mrr@<mrr_k>": [Q]}``.
    """
    if ranking.ndim != 2 or ranking.shape[0] != len(judgments):
        raise ValueError(f"ranking {tuple(ranking.shape)} does not match {len(judgments)} queries")
    rows = ranking.tolist()
    return {
        f"ndcg@{ndcg_k}": [ndcg_at_k(r, j, ndcg_k) for r, j in zip(rows, judgments, strict=True)],
        f"recall@{recall_k}": [
            recall_at_k(r, j, recall_k) for r, j in zip(rows, judgments, strict=True)
        ],
        f"mrr@{mrr_k}": [mrr_at_k(r, j, mrr_k) for r, j in zip(rows, judgments, strict=True)],
    }
