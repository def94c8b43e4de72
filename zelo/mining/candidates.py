"""Row-wise helpers for scorers that rerank or fuse candidate lists (``-1`` padded ``[Q, K]``)."""

from __future__ import annotations

import hashlib
import logging

import torch

from zelo.mining.base import MiningInput

log = logging.getLogger(__name__)


def input_key(inp: MiningInput) -> str:
    """sha256 hex of what a scorer's result depends on: texts, positives and seed."""
    h = hashlib.sha256(f"zelo-inp-v1|{inp.seed}|{inp.positives}|".encode())
    for texts in (inp.query_texts, inp.doc_texts):
        h.update(len(texts).to_bytes(8, "little"))
        for text in texts:
            b = text.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def pad_rows(rows: list[list[int]], width: int | None = None) -> torch.Tensor:
    """Ragged id lists -> ``[Q, width]`` long, ``-1`` padded (width: longest row, at least 1)."""
    width = max([len(r) for r in rows] + [1]) if width is None else width
    out = torch.full((len(rows), width), -1, dtype=torch.long)
    for i, row in enumerate(rows):
        row = row[:width]
        out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


def sort_candidates(
    ids: torch.Tensor, scores: torch.Tensor, depth: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by score (descending; ties keep their order), padding last; cut to ``depth``.

    Args:
        ids: ``[Q, C]`` candidate doc ids, ``-1`` padded.
        scores: ``[Q, C]`` their scores.
        depth: columns of the result (padded with ``-1`` / ``-inf`` when ``C < depth``).

    Returns:
        ids ``[Q, depth]`` and float scores ``[Q, depth]``.
    """
    scores = torch.where(ids >= 0, scores.float(), torch.full_like(scores.float(), float("-inf")))
    order = scores.argsort(dim=1, descending=True, stable=True)
    ids, scores = torch.gather(ids, 1, order), torch.gather(scores, 1, order)
    if ids.shape[1] < depth:
        pad = depth - ids.shape[1]
        ids = torch.cat([ids, torch.full((ids.shape[0], pad), -1, dtype=torch.long)], dim=1)
        scores = torch.cat([scores, torch.full((ids.shape[0], pad), float("-inf"))], dim=1)
    return ids[:, :depth], scores[:, :depth]


def lookup(
    doc_ids: torch.Tensor, cand_ids: torch.Tensor, values: torch.Tensor, missing: torch.Tensor
) -> torch.Tensor:
    """Each doc's value in its row's candidate list.

    Args:
        doc_ids: ``[Q, P]`` docs to look up, ``-1`` padded.
        cand_ids: ``[Q, C]`` candidate ids, ``-1`` padded.
        values: ``[Q, C]`` a value per candidate.
        missing: ``[Q]`` (or scalar) value of a doc that is not among its row's candidates.

    Returns:
        ``[Q, P]`` float: the candidate's value, ``missing`` when absent, NaN where ``-1``.
    """
    big = torch.iinfo(torch.long).max
    sorted_ids, order = cand_ids.masked_fill(cand_ids < 0, big).sort(dim=1)  # [Q, C]
    pos = torch.searchsorted(sorted_ids.contiguous(), doc_ids.contiguous())
    pos = pos.clamp(max=max(cand_ids.shape[1] - 1, 0))  # [Q, P]
    found = (torch.gather(sorted_ids, 1, pos) == doc_ids) & (doc_ids >= 0)
    picked = torch.gather(values.float(), 1, torch.gather(order, 1, pos))  # [Q, P]
    fill = torch.as_tensor(missing, dtype=torch.float32).reshape(-1, 1).expand_as(picked)
    out = torch.where(found, picked, fill)
    return torch.where(doc_ids >= 0, out, torch.full_like(out, float("nan")))


def union_rows(lists: list[torch.Tensor], extra: torch.Tensor | None = None) -> torch.Tensor:
    """Per row, the distinct ids of several ``[Q, K_i]`` lists in first-seen order (``-1`` padded).

    Args:
        lists: candidate lists, each ``[Q, K_i]`` long, ``-1`` padded.
        extra: ``[Q, P]`` ids appended last (e.g. labelled positives), or ``None``.
    """
    parts = lists + ([extra] if extra is not None else [])
    rows: list[list[int]] = []
    for row in torch.cat(parts, dim=1).tolist():
        rows.append(list(dict.fromkeys(d for d in row if d >= 0)))
    return pad_rows(rows)
