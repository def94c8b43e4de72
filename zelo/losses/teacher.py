"""Teacher scores in the loss's candidate layout, for losses that need a guide or soft labels.

A loss with ``needs_teacher`` gets both from the batch (see :class:`zelo.losses.infonce.Candidates`):
``teacher_scores [B, 1+N]`` (each query's own candidates), and ``teacher``, called on candidate
columns gathered from every rank.
"""

from __future__ import annotations

import torch

from zelo.losses.infonce import Candidates


def own_teacher_scores(cands: Candidates) -> torch.Tensor:
    """The teacher's scores of each query's own candidates ``[B, 1+N]``.

    The batch's ``teacher_scores`` when present, else read off the batch teacher's scores of the
    local candidates (the diagonal blocks).
    """
    if cands.teacher_scores is not None:
        return cands.teacher_scores
    if cands.teacher is None:
        raise ValueError("this loss needs a teacher: teacher_scores or teacher in the batch")
    b, k = cands.doc_ids.shape
    full = cands.teacher(cands.doc_ids.flatten()).view(b, b, k).to(cands.doc_ids.device)
    rows = torch.arange(b, device=full.device)
    return full[rows, rows]


def column_teacher_scores(cands: Candidates) -> torch.Tensor:
    """The teacher's scores ``[B, C]`` of every candidate column of ``cands``.

    In-batch candidates need the batch's teacher (called once on the gathered ids); a query's
    own candidates only (``cands.ids [B, 1+N]``) take :func:`own_teacher_scores`.
    """
    if cands.ids.dim() == 2:
        return own_teacher_scores(cands)
    if cands.teacher is None:
        raise ValueError("in-batch candidates need the batch's teacher (batch['teacher'])")
    return cands.teacher(cands.ids).to(cands.ids.device)  # [B, C]
