"""Ragged rows as padded tensors: the one padding helper."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_rows(
    rows: Sequence[Sequence[int]], width: int | None = None, fill: int = -1
) -> torch.Tensor:
    """Ragged id lists -> ``[len(rows), width]`` long, ``fill`` padded.

    Args:
        rows: one list of ids per row.
        width: columns; ``None``: the longest row, at least 1. Longer rows are cut.
        fill: padding value (``-1``: no document).
    """
    width = max([len(r) for r in rows] + [1]) if width is None else width
    out = torch.full((len(rows), width), fill, dtype=torch.long)
    for i, row in enumerate(rows):
        row = list(row)[:width]
        if row:
            out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


def isin_rows(ids: torch.Tensor, sets: torch.Tensor) -> torch.Tensor:
    """True where ``ids [Q, K]`` holds one of its row's ``sets [Q, P]`` (``-1`` padding never
    matches).

    Sorted sets + ``searchsorted``: O(Q·K·log P) time and no ``[Q, K, P]`` intermediate, so rows
    with thousands of members stay cheap.
    """
    if sets.numel() == 0:
        return torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
    sentinel = torch.iinfo(torch.long).max  # padding sorts last and equals no real id
    ordered = torch.where(sets >= 0, sets, sentinel).sort(dim=1).values  # [Q, P]
    at = torch.searchsorted(ordered, ids.contiguous()).clamp(max=ordered.shape[1] - 1)  # [Q, K]
    return (torch.gather(ordered, 1, at) == ids) & (ids >= 0)


def lookup(
    doc_ids: torch.Tensor,
    cand_ids: torch.Tensor,
    values: torch.Tensor,
    missing: torch.Tensor | float,
) -> torch.Tensor:
    """Each doc's value in its row's candidate list, by sorted search (no ``[Q, P, C]`` tensor).

    Args:
        doc_ids: ``[Q, P]`` docs to look up, ``-1`` padded.
        cand_ids: ``[Q, C]`` candidate ids, ``-1`` padded, unique within a row.
        values: ``[Q, C]`` a value per candidate.
        missing: ``[Q]`` (or scalar) value of a doc that is not among its row's candidates.

    Returns:
        ``[Q, P]`` in ``values``' dtype: the candidate's value, ``missing`` when absent, NaN
        where ``doc_ids`` is ``-1``.
    """
    if cand_ids.shape[1] == 0:
        cand_ids = torch.full((cand_ids.shape[0], 1), -1, dtype=torch.long)
        values = torch.zeros(cand_ids.shape, dtype=values.dtype)
    big = torch.iinfo(torch.long).max
    sorted_ids, order = cand_ids.masked_fill(cand_ids < 0, big).sort(dim=1)  # [Q, C]
    pos = torch.searchsorted(sorted_ids.contiguous(), doc_ids.contiguous())
    pos = pos.clamp(max=cand_ids.shape[1] - 1)  # [Q, P]
    found = (torch.gather(sorted_ids, 1, pos) == doc_ids) & (doc_ids >= 0)
    picked = torch.gather(values, 1, torch.gather(order, 1, pos))  # [Q, P]
    fill = torch.as_tensor(missing, dtype=values.dtype).reshape(-1, 1).expand_as(picked)
    out = torch.where(found, picked, fill)
    return torch.where(doc_ids >= 0, out, torch.full_like(out, float("nan")))


def judged_matrix(judgments: Sequence[dict[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Graded judgments as padded matrices: ids ``[Q, J]`` (``-1`` padded) and grades ``[Q, J]``
    float64 (0 padded; grades below 0 count as 0)."""
    ids = pad_rows([list(j) for j in judgments])
    grades = torch.zeros(ids.shape, dtype=torch.float64)
    for i, judged in enumerate(judgments):
        if judged:
            grades[i, : len(judged)] = torch.tensor(
                [max(float(g), 0.0) for g in judged.values()], dtype=torch.float64
            )
    return ids, grades


def grades_of(ids: torch.Tensor, judgments: Sequence[dict[int, int]]) -> torch.Tensor:
    """The judged grade of each id ``[Q, K]`` (float64; 0 unjudged, NaN where the id is ``-1``)."""
    j_ids, j_grades = judged_matrix(judgments)
    return lookup(ids, j_ids, j_grades, 0.0)
