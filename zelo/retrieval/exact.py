"""Exact maximum inner-product search: blocked GEMM plus top-k, in a fixed total order.

Results are ordered by score (descending), ties by the lower document id. ``torch.topk`` alone
leaves the order of equal scores unspecified, so every top-k is checked for equal neighbours and
only the rows that have some are sorted by (score, id) with two stable argsorts: tie order costs
nothing where no ties exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch

log = logging.getLogger(__name__)

SCORE_BUFFER_ELEMENTS = 1 << 25  # [query chunk, doc block] scores held at once: 128 MiB fp32
GROUP = 32  # columns per group whose maximum decides whether the group can enter the top-k


@contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    """Run CPU tensor ops on one thread: the top-k bookkeeping is many small ops, and on a busy
    machine each multi-threaded op waits for a descheduled thread (measured: 0.15 ms -> 30 ms for
    a 50k-element comparison at load 10 on 2 cores); the GEMM keeps every thread."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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


IdLookup = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (rows [F], cols [F, W]) -> ids


def top_ordered(
    scores: torch.Tensor, ids: torch.Tensor | IdLookup | None, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` of each row's candidates in (score desc, id asc) order.

    ``torch.topk`` takes the best ``k + 1``; a row holding equal scores among them is sorted by
    (score, id). Only a row whose ``k``-th and ``(k+1)``-th scores tie (a tie across the cut) is
    redone over every candidate scoring at least its ``k``-th score, so the lower ids are kept.

    Args:
        scores: ``[R, C]`` candidate scores (``-inf`` for padding).
        ids: the distinct candidate ids per row (``-1`` for padding): a ``[R, C]`` tensor, a
            function ``(rows [F], columns [F, W]) -> ids [F, W]``, or ``None`` for the column
            positions themselves (a block of scores).
        k: kept per row, ``k <= C``.

    Returns:
        scores ``[R, k]`` and ids ``[R, k]`` (long).
    """
    lookup = _lookup(ids)
    kk = min(k + 1, scores.shape[1])
    top, pos = scores.topk(kk, dim=1)  # [R, kk], descending
    top_ids = lookup(torch.arange(len(scores), device=scores.device), pos)
    rows = tied_rows(top)
    if len(rows):
        at_cut = top[rows, k - 1] == top[rows, kk - 1] if kk > k else torch.zeros_like(rows) > 0
        inside, cut = rows[~at_cut], rows[at_cut]
        top[inside], top_ids[inside] = order_rows(top[inside], top_ids[inside])
        if len(cut):
            sub = scores[cut]  # [F, C]
            width = int((sub >= top[cut, k - 1 : k]).sum(dim=1).max())
            s, p = sub.topk(min(max(width, kk), sub.shape[1]), dim=1)
            s, i = order_rows(s, lookup(cut, p))
            top[cut], top_ids[cut] = s[:, :kk], i[:, :kk]
    return top[:, :k], top_ids[:, :k]


def _lookup(ids: torch.Tensor | IdLookup | None) -> IdLookup:
    if ids is None:
        return lambda rows, cols: cols
    if isinstance(ids, torch.Tensor):
        return lambda rows, cols: torch.gather(ids[rows], 1, cols)
    return ids


def block_top(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` columns of each row of a score block ``[R, B]``: scores and columns ``[R, k]``."""
    return top_ordered(scores, None, k)


def above_floor(
    scores: torch.Tensor, floor: torch.Tensor, group: int = GROUP
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Every column of a score block scoring above its row's ``floor``, found by group maxima.

    A column beats the floor only if the maximum of its group of ``group`` columns does, so the
    groups are ranked by their maxima and the best ``m`` per row are kept, ``m`` the most
    qualifying groups of any row (a row may get a few groups that do not qualify).

    Args:
        scores: ``[R, B]``, ``B`` a multiple of ``group``.
        floor: ``[R]`` the running ``k``-th best score of each row.
        group: columns per group.

    Returns:
        candidate scores and columns ``[R, m * group]``, or ``None`` when no column qualifies.
    """
    r, b = scores.shape
    groups = scores.view(r, b // group, group)
    maxima = groups.amax(dim=2)  # [R, B / group]
    m = int((maxima > floor[:, None]).sum(dim=1).max())
    if m == 0:
        return None
    picked = maxima.topk(m, dim=1).indices[:, :, None]  # [R, m, 1]
    values = groups.gather(1, picked.expand(r, m, group)).reshape(r, m * group)
    cols = (picked * group + torch.arange(group, device=scores.device)).reshape(r, m * group)
    return values, cols


def fold_block(
    best: tuple[torch.Tensor, torch.Tensor] | None, scores: torch.Tensor, start: int, k: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The running top-``k`` updated with a score block ``[R, B]`` whose ids start at ``start``.

    Once ``k`` results are held, only the columns that beat the running ``k``-th score are
    ranked (:func:`above_floor`), which skips most of a large corpus's blocks; a tie with that
    score never enters, since its id is higher.
    """
    b = scores.shape[1]
    if best is not None and best[0].shape[1] == k and b % GROUP == 0:
        found = above_floor(scores, best[0][:, k - 1])
        if found is None:
            return best
        if found[0].shape[1] * 4 <= b:  # pruning pays: rank the few candidates only
            return merge_top(best, (found[0], found[1] + start), k)
    s, c = block_top(scores, min(k, b))
    return merge_top(best, (s, c + start), k)


def merge_top(
    best: tuple[torch.Tensor, torch.Tensor] | None,
    block: tuple[torch.Tensor, torch.Tensor],
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge a running top-``k`` with a later block's candidates (all with higher ids)."""
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
    ``buffer_elements`` floats, written into one reused buffer (no allocation per block). The
    GEMM uses every thread, the selection one (:func:`one_thread`).

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
            with one_thread(queries.device):
                best[j] = fold_block(best[j], out, start, k)
    if not best or best[0] is None:
        raise ValueError("exact_search got no document blocks")
    return torch.cat([b[0] for b in best]), torch.cat([b[1] for b in best])
