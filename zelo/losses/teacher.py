"""Teacher scores in the loss's candidate layout, for losses that need a guide or soft labels.

The LightningModule passes a loss with ``needs_teacher = True`` two things (see
:meth:`zelo.data.datamodule.RetrievalDataModule.teacher_scores`): ``teacher_scores [B, 1+N]``,
the teacher's scores of each query's own candidates, and ``teacher``, a callable
``cand_ids [C] -> [B, C]`` for candidate columns gathered from every rank.
"""

from __future__ import annotations

import logging

import torch

from zelo.losses.infonce import Candidates, TeacherFn

log = logging.getLogger(__name__)


def own_teacher_scores(
    doc_ids: torch.Tensor, teacher_scores: torch.Tensor | None, teacher: TeacherFn | None
) -> torch.Tensor:
    """The teacher's scores of each query's own candidates ``[B, 1+N]``.

    Args:
        doc_ids: ``[B, 1+N]`` local corpus ids.
        teacher_scores: ``[B, 1+N]`` precomputed scores (returned as they are), or ``None``.
        teacher: read off ``teacher(doc_ids.flatten())`` (the diagonal blocks) otherwise.
    """
    if teacher_scores is not None:
        return teacher_scores
    if teacher is None:
        raise ValueError("this loss needs teacher_scores or a teacher")
    b, k = doc_ids.shape
    full = teacher(doc_ids.flatten()).view(b, b, k)  # [B, B, 1+N]
    rows = torch.arange(b, device=full.device)
    return full[rows, rows]


def column_teacher_scores(
    cands: Candidates,
    doc_ids: torch.Tensor,
    teacher_scores: torch.Tensor | None,
    teacher: TeacherFn | None,
) -> torch.Tensor:
    """The teacher's scores ``[B, C]`` of every candidate column of ``cands``.

    In-batch candidates need ``teacher`` (called once on the gathered ids); a query's own
    candidates only (``cands.ids [B, 1+N]``) take :func:`own_teacher_scores`.
    """
    if cands.ids.dim() == 2:
        return own_teacher_scores(doc_ids, teacher_scores, teacher)
    if teacher is None:
        raise ValueError("in-batch candidates need a teacher callable (cand_ids [C] -> [B, C])")
    return teacher(cands.ids)
