"""IR metrics with trec_eval semantics, vectorised over a ranking matrix: the one home of nDCG.

Conventions (those of trec_eval's ``ndcg_cut``, ``recall`` and ``recip_rank``): a document is
relevant when its grade is > 0; nDCG's gain is the grade itself with discount ``log2(rank + 1)``
and its ideal DCG is computed from all judged grades; a query with no relevant document scores 0.
Ids ``< 0`` in a ranking are padding and are skipped; ids are assumed unique within a ranking.
The same nDCG measures the student (``test/ndcg@10``) and every miner (``miner/ndcg@10``, the
study's x-axis), including the oracle's calibration.

On a graded collection two views of the same ranking tell *what* a student learned:
``ndcg@10_binary`` (every relevant document has gain 1: "finds the relevant set") and
``ndcg@10_top`` (only the documents at the query's highest grade count, gain 1: "puts the best
matches first"). Labelling every judged document as an equal positive can raise the first and
lower the second, and graded nDCG with it (docs/FINDINGS.md). On binary judgments both equal
``ndcg@10``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from zelo.utils.tensors import grades_of, judged_matrix

log = logging.getLogger(__name__)


def discount(k: int) -> torch.Tensor:
    """``1 / log2(rank + 1)`` for ranks 1..k, float64 ``[k]``."""
    return 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)


def dcg(gains: torch.Tensor, k: int) -> torch.Tensor:
    """DCG@k ``[Q]`` of gains ``[Q, K]`` in rank order (linear gains)."""
    k = min(k, gains.shape[1])
    return (gains[:, :k].double() * discount(k)).sum(dim=1)


def ideal_dcg(grades: torch.Tensor, k: int) -> torch.Tensor:
    """Ideal DCG@k ``[Q]`` of each row's judged grades ``[Q, J]`` (any order, 0 padded)."""
    k = min(k, grades.shape[1])
    return dcg(grades.double().topk(k, dim=1).values, k) if k else torch.zeros(len(grades))


def ndcg_from_gains(ranked: torch.Tensor, ideal: torch.Tensor, k: int = 10) -> torch.Tensor:
    """nDCG@k ``[Q]`` from the gains of each row's ranking ``[Q, K]`` and its ideal DCG ``[Q]``.

    A row with ideal DCG 0 (nothing relevant) scores 0.
    """
    got = dcg(ranked, k)
    return torch.where(ideal > 0, got / ideal.clamp(min=1e-12), torch.zeros_like(got))


def compact(ranking: torch.Tensor) -> torch.Tensor:
    """Move each row's padding (ids < 0) to its end, keeping the order of the real ids."""
    order = (ranking < 0).to(torch.uint8).argsort(dim=1, stable=True)
    return torch.gather(ranking, 1, order)


def evaluate_ranking(
    ranking: torch.Tensor,
    judgments: Sequence[dict[int, int]],
    ndcg_k: int = 10,
    recall_k: int = 100,
    mrr_k: int = 10,
) -> dict[str, torch.Tensor]:
    """Per-query nDCG, recall and MRR of a ranking matrix.

    Args:
        ranking: ``[Q, K]`` doc ids, best first, ``-1`` padded.
        judgments: per query, doc id -> grade.
        ndcg_k, recall_k, mrr_k: cut-offs; they name the keys.

    Returns:
        ``{"ndcg@<ndcg_k>": [Q], "recall@<recall_k>": [Q], "mrr@<mrr_k>": [Q]}``, float64.
    """
    if ranking.ndim != 2 or ranking.shape[0] != len(judgments):
        raise ValueError(f"ranking {tuple(ranking.shape)} does not match {len(judgments)} queries")
    ranking = compact(ranking.long())
    gains = grades_of(ranking, judgments).nan_to_num(0.0)  # [Q, K]
    _, judged = judged_matrix(judgments)  # [Q, J]
    relevant = gains > 0  # [Q, K]
    num_relevant = (judged > 0).sum(dim=1)  # [Q]
    found = relevant[:, :recall_k].sum(dim=1)
    hits = relevant[:, :mrr_k]
    first = hits.float().argmax(dim=1)  # first relevant rank (0 when none)
    mrr = torch.where(hits.any(dim=1), 1.0 / (first.double() + 1.0), 0.0)
    binary, top = graded_views(gains, judged, ndcg_k)
    return {
        f"ndcg@{ndcg_k}": ndcg_from_gains(gains, ideal_dcg(judged, ndcg_k), ndcg_k),
        f"recall@{recall_k}": found.double() / num_relevant.clamp(min=1),
        f"mrr@{mrr_k}": mrr,
        f"ndcg@{ndcg_k}_binary": ndcg_from_gains(*binary, ndcg_k),
        f"ndcg@{ndcg_k}_top": ndcg_from_gains(*top, ndcg_k),
    }


def graded_views(
    gains: torch.Tensor, judged: torch.Tensor, k: int = 10
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """(ranked gains, ideal DCG) of the binary view and of the top-grade view.

    Args:
        gains: ``[Q, K]`` the grade of each ranked document (0 unjudged or padding).
        judged: ``[Q, J]`` each query's judged grades (0 padded, ``J >= 1`` as
            :func:`~zelo.utils.tensors.judged_matrix` gives them).
    """
    binary = ((gains > 0).double(), ideal_dcg((judged > 0).double(), k))
    # judged has at least one column; a query with nothing relevant matches nothing
    best = judged.max(dim=1, keepdim=True).values.clamp(min=1e-12)
    top = ((gains >= best).double(), ideal_dcg((judged >= best).double(), k))
    return binary, top


def mean_ndcg(ranking: torch.Tensor, judgments: Sequence[dict[int, int]], k: int = 10) -> float:
    """Mean nDCG@k over the rows of a ``[Q, K]`` ranking; NaN with no rows."""
    if ranking.shape[0] == 0:
        return float("nan")
    return float(evaluate_ranking(ranking, judgments, ndcg_k=k)[f"ndcg@{k}"].mean())


def ndcg_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 10) -> float:
    """nDCG@k of one ranking (trec_eval ``ndcg_cut_k``)."""
    return mean_ndcg(torch.as_tensor([list(ranked) or [-1]], dtype=torch.long), [judgments], k)


def recall_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top ``k`` (trec_eval ``recall_k``)."""
    row = torch.as_tensor([list(ranked) or [-1]], dtype=torch.long)
    return float(evaluate_ranking(row, [judgments], recall_k=k)[f"recall@{k}"][0])


def mrr_at_k(ranked: Sequence[int], judgments: dict[int, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top ``k``, else 0."""
    row = torch.as_tensor([list(ranked) or [-1]], dtype=torch.long)
    return float(evaluate_ranking(row, [judgments], mrr_k=k)[f"mrr@{k}"][0])
