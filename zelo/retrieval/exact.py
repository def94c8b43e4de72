"""Exact maximum inner-product search: blocked GEMM plus top-k, in a fixed total order.

Results are ordered by score (descending), ties by the lower document id. ``torch.topk`` alone
leaves the order of equal scores unspecified, so every top-k is checked for equal neighbours and
only the rows that have some are sorted by (score, id) with two stable argsorts: tie order costs
nothing where no ties exist.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch

log = logging.getLogger(__name__)

SCORE_BUFFER_ELEMENTS = 1 << 25  # [query chunk, doc block] scores held at once: 128 MiB fp32


def order_rows(scores: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by score (descending), ties by id (ascending), missing (``-1``) last.

    Args:
        scores: ``[R, C]`` float.
        ids: ``[R, C]`` long, ``-1`` for a missing entry (its score is treated as ``-inf``).

    Returns:
        scores and ids ``[R, C]``, reordered.
    """
    scores = torch.where(ids >= 0, scores, torch.full_like(scores, float("-inf")))
    by_id = ids.masked_fill(ids < 0, torch.iinfo(torch.long).max).argsort(dim=1, stable=True)
    scores, ids = torch.gather(scores, 1, by_id), torch.gather(ids, 1, by_id)
    by_score = scores.argsort(dim=1, descending=True, stable=True)
    return torch.gather(scores, 1, by_score), torch.gather(ids, 1, by_score)


def tied_rows(values: torch.Tensor) -> torch.Tensor:
    """Row indices ``[F]`` of ``values [R, C]`` (sorted descending) holding two equal neighbours."""
    if values.shape[1] < 2:
        return torch.zeros(0, dtype=torch.long, device=values.device)
    return (values[:, 1:] == values[:, :-1]).any(dim=1).nonzero().squeeze(1)


def top_ordered(
    scores: torch.Tensor, ids: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` of each row's candidates in (score desc, id asc) order.

    Args:
        scores: ``[R, C]`` candidate scores (``-inf`` for padding).
        ids: ``[R, C]`` distinct candidate ids per row (``-1`` for padding).
        k: kept per row, ``k <= C``.

    Returns:
        scores ``[R, k]`` and ids ``[R, k]``.
    """
    kk = min(k + 1, scores.shape[1])  # one more: a tie across the cut shows as equal neighbours
    top, pos = scores.topk(kk, dim=1)  # [R, kk], descending
    top_ids = torch.gather(ids, 1, pos)
    rows = tied_rows(top)
    if len(rows):
        s, i = order_rows(scores[rows], ids[rows])
        top[rows], top_ids[rows] = s[:, :kk], i[:, :kk]
    return top[:, :k], top_ids[:, :k]


def block_top(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` columns of each row of a score block in (score desc, column asc) order.

    A row whose top ``k + 1`` holds equal scores is redone over every column scoring at least
    its ``k``-th value (so a tie across the cut keeps the lower columns), then sorted exactly.

    Args:
        scores: ``[R, B]`` a block of inner products, ``k <= B``.
        k: kept per row.

    Returns:
        scores ``[R, k]`` and columns ``[R, k]`` (long, into the block).
    """
    kk = min(k + 1, scores.shape[1])
    top, cols = scores.topk(kk, dim=1)  # [R, kk]
    rows = tied_rows(top)
    if len(rows):
        sub = scores[rows]  # [F, B]
        kth = top[rows, k - 1 : k]  # [F, 1]
        width = int((sub >= kth).sum(dim=1).max()) + 1
        s, c = sub.topk(min(max(width, kk), sub.shape[1]), dim=1)
        s, c = order_rows(s, c)
        top[rows], cols[rows] = s[:, :kk], c[:, :kk]
    return top[:, :k], cols[:, :k]


def merge_top(
    best: tuple[torch.Tensor, torch.Tensor] | None,
    block: tuple[torch.Tensor, torch.Tensor],
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge a running top-``k`` with a later block's (whose ids are all higher) -> ``[R, k]``."""
    if best is None:
        return block
    scores = torch.cat([best[0], block[0]], dim=1)  # [R, 2k]
    ids = torch.cat([best[1], block[1]], dim=1)
    return top_ordered(scores, ids, k)


def exact_search(
    queries: torch.Tensor,
    blocks: Iterable[tuple[int, torch.Tensor]],
    k: int,
    buffer_elements: int = SCORE_BUFFER_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-``k`` by inner product over document blocks read one after another.

    Each block is read once; the queries run against it in chunks whose score matrix fits in
    ``buffer_elements`` floats, written into one reused buffer (no allocation per block).

    Args:
        queries: ``[Q, D]`` float32, on the device the blocks arrive on.
        blocks: ``(first_id, [B, D] block)`` pairs in increasing id order; a block may be a
            reused buffer, overwritten after the next item is requested.
        k: results per query, at most the number of documents.
        buffer_elements: size of the score buffer.

    Returns:
        scores ``[Q, k]`` float32 and ids ``[Q, k]`` long, best first.
    """
    nq = queries.shape[0]
    buf: torch.Tensor | None = None
    best: list[tuple[torch.Tensor, torch.Tensor] | None] = []
    chunk = nq
    for start, block in blocks:
        b = block.shape[0]
        if buf is None:
            chunk = max(1, min(nq, buffer_elements // max(b, 1)))
            best = [None] * ((nq + chunk - 1) // chunk)
        if buf is None or buf.numel() < min(chunk, nq) * b:
            buf = torch.empty(min(chunk, nq) * b, dtype=torch.float32, device=queries.device)
        for j, q0 in enumerate(range(0, nq, chunk)):
            q = queries[q0 : q0 + chunk]
            out = buf[: q.shape[0] * b].view(q.shape[0], b)
            torch.mm(q, block.T, out=out)  # [q, b]
            s, c = block_top(out, min(k, b))
            best[j] = merge_top(best[j], (s, c + start), k)
    if not best or best[0] is None:
        raise ValueError("exact_search got no document blocks")
    return torch.cat([b[0] for b in best]), torch.cat([b[1] for b in best])
