"""Row-wise helpers for scorers that rerank or fuse candidate lists (``-1`` padded ``[Q, K]``)."""

from __future__ import annotations

import hashlib
import logging

import torch

from zelo.types import MiningInput
from zelo.utils.tensors import pad_rows

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
