"""InfoNCE over in-batch and mined negatives, with known positives masked out; the losses' base.

Batch layout: ``q [B, D]`` queries; ``docs [B, 1+N, D]`` each query's positive (slot 0) then N
mined negatives; ``doc_ids [B, 1+N]`` corpus indices (-1: empty negative slot); ``pos_sets [B, P]``
every labelled positive of each query (-1 padded); ``teacher_scores [B, 1+N]`` a teacher's scores
of each query's own candidates and ``teacher`` the same teacher for any candidate columns (losses
with a teacher only; both come in the batch, see :class:`~zelo.types.BatchTeacher`).

Every loss is a :class:`ContrastiveLoss`: it shares the temperature and the candidate layout
(in-batch across ranks, or each query's own) and implements :meth:`ContrastiveLoss.objective`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from zelo.types import BatchTeacher
from zelo.utils.distributed import gather_no_grad, gather_sizes, gather_with_grad, world

log = logging.getLogger(__name__)


def candidate_mask(
    cand_ids: torch.Tensor, own_col: torch.Tensor, pos_sets: torch.Tensor
) -> torch.Tensor:
    """Which candidates each query may score against.

    A candidate is invalid when it is padding (id -1) or, except in the query's own positive
    column, when its document is one of the query's labelled positives (another query's copy of a
    shared positive, the query's second positive, a mined negative that is labelled relevant).

    Args:
        cand_ids: ``[C]`` document id of each candidate column, or ``[B, C]`` per query.
        own_col: ``[B]`` column of each query's own positive.
        pos_sets: ``[B, P]`` labelled positives of each query, -1 padded (P may be 0).

    Returns:
        ``[B, C]`` bool, True where the candidate enters the softmax.
    """
    b = own_col.shape[0]
    ids = cand_ids.expand(b, -1)  # [B, C]
    valid = ids >= 0
    pos = pos_sets[:, None, :]  # [B, 1, P]
    known = ((ids[:, :, None] == pos) & (pos >= 0)).any(-1)  # [B, C]
    own = torch.arange(ids.shape[1], device=ids.device)[None, :] == own_col[:, None]  # [B, C]
    return valid & (own | ~known)


def infonce_logits(
    q: torch.Tensor, cands: torch.Tensor, mask: torch.Tensor, scale: torch.Tensor | float
) -> torch.Tensor:
    """``scale * q @ cands.T`` with invalid candidates at -inf.

    Args:
        q: ``[B, D]`` query embeddings.
        cands: ``[C, D]`` candidates shared by all queries, or ``[B, K, D]`` per query.
        mask: ``[B, C]`` (or ``[B, K]``) bool from :func:`candidate_mask`.
        scale: logit scale, 1 / temperature.

    Returns:
        ``[B, C]`` (or ``[B, K]``) logits.
    """
    if cands.dim() == 3:
        sims = torch.einsum("bd,bkd->bk", q, cands)  # [B, K]
    else:
        sims = q @ cands.T  # [B, C]
    return (scale * sims).masked_fill(~mask, float("-inf"))


def infonce_loss(
    q: torch.Tensor,
    cands: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    scale: torch.Tensor | float,
) -> torch.Tensor:
    """InfoNCE: cross-entropy of each query's positive against the valid candidates.

    Args:
        q: ``[B, D]`` query embeddings.
        cands: ``[C, D]`` flattened candidates of the (global) batch, row-major (query j's
            positive at column ``j * (1+N)``), or ``[B, 1+N, D]`` for each query's own candidates
            only (no in-batch negatives).
        labels: ``[B]`` column of each query's positive.
        mask: ``[B, C]`` (or ``[B, 1+N]``) bool, False for columns left out of the softmax.
        scale: logit scale, 1 / temperature.

    Returns:
        Scalar loss, mean over queries.

    References:
        InfoNCE, arXiv:1807.03748; in-batch negatives (DPR), arXiv:2004.04906.
    """
    return F.cross_entropy(infonce_logits(q, cands, mask, scale), labels)


@dataclass
class Candidates:
    """The columns each local query is scored against, and what a loss needs of the batch.

    Attributes:
        cands: ``[C, D]`` every rank's candidates, row-major (in-batch), or ``[B, 1+N, D]``.
        ids: ``[C]`` (or ``[B, 1+N]``) their corpus ids, -1 for empty slots.
        labels: ``[B]`` column of each query's own positive.
        mask: ``[B, C]`` (or ``[B, 1+N]``) bool from :func:`candidate_mask`.
        doc_ids: ``[B, 1+N]`` the local batch's own ids.
        pos_sets: ``[B, P]`` labelled positives per local query (empty when not masked).
        teacher_scores: ``[B, 1+N]`` the teacher's scores of the own candidates, or ``None``.
        teacher: ``cand_ids [C] -> [B, C]`` the batch's teacher for the local queries, or
            ``None``.
    """

    cands: torch.Tensor
    ids: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor
    doc_ids: torch.Tensor
    pos_sets: torch.Tensor
    teacher_scores: torch.Tensor | None = None
    teacher: BatchTeacher | None = None


class Temperature(nn.Module):
    """The softmax temperature tau, fixed or learned (stored as log(scale), scale = 1 / tau).

    Args:
        temperature: initial tau (> 0).
        learnable: learn tau.
        min_temperature: lower bound on tau (upper bound on the scale) when learned.
    """

    def __init__(
        self, temperature: float = 0.05, learnable: bool = False, min_temperature: float = 0.01
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"loss.temperature must be > 0, got {temperature}")
        if not 0 < min_temperature <= temperature:
            raise ValueError(
                f"need 0 < loss.min_temperature <= loss.temperature, got {min_temperature} "
                f"and {temperature}"
            )
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.max_log_scale = math.log(1.0 / min_temperature)

    def forward(self) -> torch.Tensor:
        """The scale 1 / tau, with tau clamped at ``min_temperature``."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()


class ContrastiveLoss(nn.Module):
    """InfoNCE-family loss over in-batch (all ranks) and mined negatives, known positives masked.

    Args:
        temperature: softmax temperature tau; logits are ``q . d / tau`` (scale = 1 / tau).
        learnable_temperature: learn tau, stored as log(scale).
        in_batch_negatives: score each query against every rank's candidates, not only its own.
        mask_known_positives: drop candidates that are labelled positives of the query.
        min_temperature: lower bound on tau (upper bound on the scale) when learned.

    Every rank must hold the same number 1+N of candidate slots per query. A loss with
    ``needs_teacher`` reads its teacher from the batch (``teacher_scores``, ``teacher``) and
    nothing else.

    References:
        InfoNCE, arXiv:1807.03748; learnable temperature (CLIP), arXiv:2103.00020.
    """

    needs_teacher = False

    def __init__(
        self,
        temperature: float = 0.05,
        learnable_temperature: bool = False,
        in_batch_negatives: bool = True,
        mask_known_positives: bool = True,
        min_temperature: float = 0.01,
    ) -> None:
        super().__init__()
        self.temperature = Temperature(temperature, learnable_temperature, min_temperature)
        self.in_batch_negatives = in_batch_negatives
        self.mask_known_positives = mask_known_positives

    @property
    def scale(self) -> torch.Tensor:
        """1 / temperature, with the temperature clamped at ``min_temperature``."""
        return self.temperature()

    def candidates(
        self, docs: torch.Tensor, doc_ids: torch.Tensor, pos_sets: torch.Tensor
    ) -> Candidates:
        """Every rank's candidates (in-batch) or each query's own, with labels and mask."""
        b, k, _ = docs.shape
        positives = pos_sets if self.mask_known_positives else pos_sets[:, :0]
        if self.in_batch_negatives:
            sizes = gather_sizes(b, docs.device)
            rank, _ = world()
            cands = gather_with_grad(docs, sizes).flatten(0, 1)  # [C, D], C = B_global * (1+N)
            cand_ids = gather_no_grad(doc_ids, sizes).flatten()  # [C]
            first = sum(sizes[:rank])  # global index of this rank's first query
            labels = (first + torch.arange(b, device=docs.device)) * k  # [B]
        else:
            cands, cand_ids = docs, doc_ids  # [B, 1+N, D], [B, 1+N]
            labels = torch.zeros(b, dtype=torch.long, device=docs.device)
        mask = candidate_mask(cand_ids, labels, positives)  # [B, C]
        return Candidates(cands, cand_ids, labels, mask, doc_ids, positives)

    def forward(
        self,
        q: torch.Tensor,
        docs: torch.Tensor,
        doc_ids: torch.Tensor,
        pos_sets: torch.Tensor,
        teacher_scores: torch.Tensor | None = None,
        teacher: BatchTeacher | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and stats for one (local) batch.

        Args:
            q: ``[B, D]`` query embeddings.
            docs: ``[B, 1+N, D]`` positive then negatives per query.
            doc_ids: ``[B, 1+N]`` corpus ids, -1 for empty slots.
            pos_sets: ``[B, P]`` labelled positives per query, -1 padded.
            teacher_scores: ``[B, 1+N]`` the teacher's scores of each query's own candidates.
            teacher: the batch's teacher, ``cand_ids [C] -> [B, C]`` for its queries.

        Returns:
            Scalar loss (mean over local queries) and stats: ``temperature``, ``masked``
            (candidates masked as known positives, padding excluded), ``acc`` (share of
            queries whose positive scores highest), plus the objective's own.
        """
        cands = self.candidates(docs, doc_ids, pos_sets)
        cands.teacher_scores = teacher_scores
        cands.teacher = teacher
        scale = self.scale
        loss, logits, extra = self.objective(q, docs, cands, scale)
        with torch.no_grad():
            padded = (cands.ids < 0).expand_as(cands.mask)
            stats = {
                "temperature": float(1.0 / scale),
                "masked": float((~cands.mask & ~padded).sum()),
                "acc": float((logits.argmax(1) == cands.labels).float().mean()),
            }
        return loss, {**stats, **extra}

    def objective(
        self, q: torch.Tensor, docs: torch.Tensor, cands: Candidates, scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The loss, the logits it used (for ``acc``) and extra stats; InfoNCE here."""
        logits = infonce_logits(q, cands.cands, cands.mask, scale)
        return F.cross_entropy(logits, cands.labels), logits, {}


class InfoNCELoss(ContrastiveLoss):
    """InfoNCE over in-batch (all ranks) and mined negatives, known positives masked.

    Arguments as :class:`ContrastiveLoss`.

    References:
        InfoNCE, arXiv:1807.03748; in-batch negatives (DPR), arXiv:2004.04906.
    """
