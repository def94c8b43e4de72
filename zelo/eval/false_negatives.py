"""Pure measurements of false negatives: in-batch, teacher-estimated, and student margins."""

from __future__ import annotations

import torch


def inbatch_false_negatives(
    doc_ids: torch.Tensor,
    judgments: list[dict[int, int]],
    positives: list[list[int]],
) -> tuple[int, int]:
    """False negatives among the in-batch negatives of a training batch.

    For query ``i`` the in-batch negatives are every document in the *other* rows of the batch
    (their positives and mined negatives), minus the query's own labelled positives (the loss
    masks those). A false negative is one the full judgments call relevant to ``i``.

    Args:
        doc_ids: ``[B, 1+N]`` corpus indices (positive first, ``-1`` padding).
        judgments: full graded judgments of the batch's queries (doc index -> grade).
        positives: labelled positives of the batch's queries.

    Returns:
        ``(false_negatives, in_batch_negatives)`` counts over the batch.
    """
    rows = [[d for d in row if d >= 0] for row in doc_ids.tolist()]
    fn = total = 0
    for i, (judged, labelled) in enumerate(zip(judgments, positives, strict=True)):
        own = set(labelled)
        cands = [d for j, row in enumerate(rows) if j != i for d in row if d not in own]
        total += len(cands)
        fn += sum(1 for d in cands if judged.get(d, 0) > 0)
    return fn, total


def reference_positive(pos_scores: torch.Tensor, reduce: str = "min") -> torch.Tensor:
    """One positive score per query from ``pos_scores [Q, P]`` (NaN padded) -> ``[Q]``.

    ``min`` is what sentence-transformers' positive-aware mining uses; ``max`` and ``mean`` too.
    A row with no finite score gives NaN.
    """
    finite = torch.isfinite(pos_scores)
    if reduce == "min":
        ref = torch.where(finite, pos_scores, torch.inf).min(dim=1).values
    elif reduce == "max":
        ref = torch.where(finite, pos_scores, -torch.inf).max(dim=1).values
    elif reduce == "mean":
        ref = torch.where(finite, pos_scores, 0.0).sum(1) / finite.sum(1).clamp(min=1)
    else:
        raise ValueError(f"reduce must be min, max or mean, got {reduce!r}")
    return torch.where(finite.any(dim=1), ref, torch.nan)


def teacher_false_negative_rate(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> float:
    """Estimated FN rate: share of negatives a teacher scores at or above the query's positive.

    Args:
        neg_scores: ``[Q, N]`` teacher scores of the negatives (NaN where no negative).
        pos_scores: ``[Q, P]`` teacher scores of the labelled positives (NaN padded).
        reduce: how several positives give one reference score.
    """
    ref = reference_positive(pos_scores, reduce).unsqueeze(1)  # [Q, 1]
    valid = torch.isfinite(neg_scores) & torch.isfinite(ref)
    if not valid.any():
        return float("nan")
    return float(teacher_false_negatives(neg_scores, pos_scores, reduce).sum() / valid.sum())


def teacher_false_negatives(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> torch.Tensor:
    """Per negative ``[Q, N]`` bool: the teacher scores it at or above the query's positive.

    False where the negative or the positive has no finite score. Its mean over the valid
    negatives is :func:`teacher_false_negative_rate`.
    """
    ref = reference_positive(pos_scores, reduce).unsqueeze(1)  # [Q, 1]
    return (neg_scores >= ref) & torch.isfinite(neg_scores) & torch.isfinite(ref)


def score_margins(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> torch.Tensor:
    """Margins ``negative − positive`` of every valid negative, flattened ``[M]``."""
    ref = reference_positive(pos_scores, reduce).unsqueeze(1)
    margins = neg_scores - ref
    return margins[torch.isfinite(margins)]


def relevance_of(neg_ids: torch.Tensor, judgments: list[dict[int, int]]) -> torch.Tensor:
    """Full-judgment grade of each selected negative ``[Q, N]`` (0 for unjudged, -1 for none)."""
    out = torch.full(neg_ids.shape, -1, dtype=torch.long)
    for q, row in enumerate(neg_ids.tolist()):
        for j, d in enumerate(row):
            if d >= 0:
                out[q, j] = judgments[q].get(d, 0)
    return out
