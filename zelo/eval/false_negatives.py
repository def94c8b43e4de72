"""Pure measurements of false negatives: in-batch, teacher-estimated, student margins, hardness.

Each function takes tensors (and judgments) and returns numbers; the false-negative monitor
(:mod:`zelo.callbacks.false_negatives`) only gathers their inputs and logs their outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from zelo.utils.scores import at_or_above, reference_score
from zelo.utils.tensors import grades_of, isin_rows


def inbatch_false_negatives(
    doc_ids: torch.Tensor, judgments: Sequence[dict[int, int]], pos_sets: torch.Tensor
) -> tuple[int, int]:
    """False negatives among the in-batch negatives of a training batch.

    For query ``i`` the in-batch negatives are every document in the *other* rows of the batch
    (their positives and mined negatives), minus the query's own labelled positives (the loss
    masks those). A false negative is one the full judgments call relevant to ``i``.

    Args:
        doc_ids: ``[B, 1+N]`` corpus indices (positive first, ``-1`` padding).
        judgments: full graded judgments of the batch's queries (doc index -> grade).
        pos_sets: ``[B, P]`` labelled positives of the batch's queries (``-1`` padded).

    Returns:
        ``(false_negatives, in_batch_negatives)`` counts over the batch.
    """
    b, width = doc_ids.shape
    cands = doc_ids.reshape(1, -1).expand(b, -1)  # [B, B*(1+N)]
    other = torch.arange(b).repeat_interleave(width)[None, :] != torch.arange(b)[:, None]
    keep = other & (cands >= 0) & ~isin_rows(cands, pos_sets)  # [B, C]
    relevant = grades_of(cands, judgments).nan_to_num(0.0) > 0
    return int((keep & relevant).sum()), int(keep.sum())


def teacher_false_negative_rate(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> float:
    """Estimated FN rate: share of negatives a teacher scores at or above the query's positive.

    The same rule as the loss's guide (:func:`zelo.utils.scores.at_or_above`, no margin).

    Args:
        neg_scores: ``[Q, N]`` teacher scores of the negatives (NaN where no negative).
        pos_scores: ``[Q, P]`` teacher scores of the labelled positives (NaN padded).
        reduce: how several positives give one reference score.
    """
    ref = reference_score(pos_scores, reduce)  # [Q]
    valid = torch.isfinite(neg_scores) & torch.isfinite(ref).unsqueeze(1)
    if not valid.any():
        return math.nan
    return float((at_or_above(neg_scores, ref) & valid).sum() / valid.sum())


def score_margins(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> torch.Tensor:
    """Margins ``negative − positive`` of every valid negative, flattened ``[M]``."""
    margins = neg_scores - reference_score(pos_scores, reduce).unsqueeze(1)
    return margins[torch.isfinite(margins)]


def relevance_of(neg_ids: torch.Tensor, judgments: Sequence[dict[int, int]]) -> torch.Tensor:
    """Full-judgment grade of each selected negative ``[Q, N]`` (0 unjudged, -1 for none)."""
    grades = grades_of(neg_ids, judgments)  # NaN where -1
    return grades.nan_to_num(-1.0).long()


def share(hit: torch.Tensor, among: torch.Tensor) -> float:
    """Share of ``among`` (bool) that is also ``hit``; NaN when ``among`` is empty."""
    n = int(among.sum())
    return float((hit & among).sum()) / n if n else math.nan


def student_view(
    q_emb: torch.Tensor, pos_emb: torch.Tensor, neg_emb: torch.Tensor, grades: torch.Tensor
) -> tuple[dict[str, float], torch.Tensor]:
    """How the student ranks each query's mined negatives against its positive.

    Args:
        q_emb: ``[S, D]`` query embeddings of the sampled training queries.
        pos_emb: ``[S, D]`` their first labelled positive's embedding.
        neg_emb: ``[S, N, D]`` their mined negatives' embeddings (any value where no negative).
        grades: ``[S, N]`` full-judgment grade of each negative (0: true negative, > 0: false
            negative, -1: no negative).

    Returns:
        ``fn/student_above_pos`` (share of negatives the student scores above the positive),
        its split over false (``_fn``) and true (``_tn``) negatives, ``fn/student_margin_mean``,
        and the margins ``negative − positive`` of every valid negative ``[M]``.
    """
    pos = (q_emb * pos_emb).sum(-1)  # [S]
    neg = torch.einsum("sd,snd->sn", q_emb, neg_emb)  # [S, N]
    valid = grades >= 0
    margin = torch.where(valid, neg - pos.unsqueeze(1), torch.nan)
    above = margin > 0
    return {
        "fn/student_above_pos": share(above, valid),
        "fn/student_above_pos_fn": share(above, valid & (grades > 0)),
        "fn/student_above_pos_tn": share(above, valid & (grades == 0)),
        "fn/student_margin_mean": float(torch.nanmean(margin)) if valid.any() else math.nan,
    }, margin[valid]
