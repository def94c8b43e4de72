"""InfoNCE over in-batch and mined negatives, with known positives masked out.

Batch layout: ``q [B, D]`` queries; ``docs [B, 1+N, D]`` each query's positive (slot 0) then N
mined negatives; ``doc_ids [B, 1+N]`` corpus indices (-1: empty negative slot); ``pos_sets [B, P]``
every labelled positive of each query (-1 padded).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

TeacherFn = Callable[[torch.Tensor], torch.Tensor]
"""A teacher's scores of candidate columns for the local queries: ``cand_ids [C] -> [B, C]``."""


def _world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_sizes(n: int, device: torch.device | str = "cpu") -> list[int]:
    """Every rank's ``n`` (rows it contributes), in rank order; ``[n]`` on one process."""
    _, world = _world()
    if world == 1:
        return [int(n)]
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.long, device=device))
    return [int(s.item()) for s in sizes]


def rank_offset(n: int, device: torch.device | str = "cpu") -> int:
    """Row index of this rank's first row in a tensor gathered along dim 0 (0 on one process)."""
    rank, _ = _world()
    return sum(gather_sizes(n, device)[:rank])


def _pad_rows(x: torch.Tensor, rows: int, value: float = 0) -> torch.Tensor:
    if x.shape[0] == rows:
        return x
    pad = x.new_full((rows - x.shape[0], *x.shape[1:]), value)
    return torch.cat([x, pad])


def gather_with_grad(x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients to every rank's rows.

    Uses ``torch.distributed.nn.functional.all_gather``, whose backward sends each rank the
    gradients of its rows summed over all ranks (plain ``dist.all_gather`` returns constants).
    Ranks may hold different numbers of rows. Identity on one process.

    Args:
        x: ``[n, ...]`` local rows (same trailing shape on every rank).
        sizes: every rank's ``n`` if already known (see :func:`gather_sizes`).

    Returns:
        ``[sum(sizes), ...]`` rows of rank 0, then rank 1, ...
    """
    _, world = _world()
    if world == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    sizes = sizes or gather_sizes(x.shape[0], x.device)
    parts = all_gather(_pad_rows(x, max(sizes)))
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


def gather_no_grad(x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """:func:`gather_with_grad` without gradients (ids, labels): plain ``dist.all_gather``."""
    _, world = _world()
    if world == 1:
        return x
    sizes = sizes or gather_sizes(x.shape[0], x.device)
    padded = _pad_rows(x.detach(), max(sizes))
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


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
    """The columns each local query is scored against.

    Attributes:
        cands: ``[C, D]`` every rank's candidates, row-major (in-batch), or ``[B, 1+N, D]``.
        ids: ``[C]`` (or ``[B, 1+N]``) their corpus ids, -1 for empty slots.
        labels: ``[B]`` column of each query's own positive.
        mask: ``[B, C]`` (or ``[B, 1+N]``) bool from :func:`candidate_mask`.
    """

    cands: torch.Tensor
    ids: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor


class InfoNCELoss(nn.Module):
    """InfoNCE over in-batch (all ranks) and mined negatives, known positives masked.

    Args:
        temperature: softmax temperature tau; logits are ``q . d / tau`` (scale = 1 / tau).
        learnable_temperature: learn tau, stored as log(scale).
        in_batch_negatives: score each query against every rank's candidates, not only its own.
        mask_known_positives: drop candidates that are labelled positives of the query.
        min_temperature: lower bound on tau (upper bound on the scale) when learned.

    Every rank must hold the same number 1+N of candidate slots per query.

    References:
        InfoNCE, arXiv:1807.03748; learnable temperature (CLIP), arXiv:2103.00020.
    """

    needs_teacher = False  # True: the module passes teacher_scores and teacher (see forward)

    def __init__(
        self,
        temperature: float = 0.05,
        learnable_temperature: bool = False,
        in_batch_negatives: bool = True,
        mask_known_positives: bool = True,
        min_temperature: float = 0.01,
    ) -> None:
        super().__init__()
        if not 0 < min_temperature <= temperature:
            raise ValueError(
                f"need 0 < loss.min_temperature <= loss.temperature, got "
                f"temperature={temperature}, min_temperature={min_temperature}"
            )
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable_temperature:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.max_log_scale = math.log(1.0 / min_temperature)
        self.in_batch_negatives = in_batch_negatives
        self.mask_known_positives = mask_known_positives

    @property
    def scale(self) -> torch.Tensor:
        """1 / temperature, with the temperature clamped at ``min_temperature``."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()

    def candidates(
        self, docs: torch.Tensor, doc_ids: torch.Tensor, pos_sets: torch.Tensor
    ) -> Candidates:
        """Every rank's candidates (in-batch) or each query's own, with labels and mask."""
        b, k, _ = docs.shape
        positives = pos_sets if self.mask_known_positives else pos_sets[:, :0]
        if self.in_batch_negatives:
            sizes = gather_sizes(b, docs.device)
            rank, _ = _world()
            cands = gather_with_grad(docs, sizes).flatten(0, 1)  # [C, D], C = B_global * (1+N)
            cand_ids = gather_no_grad(doc_ids, sizes).flatten()  # [C]
            first = sum(sizes[:rank])  # global index of this rank's first query
            labels = (first + torch.arange(b, device=docs.device)) * k  # [B]
        else:
            cands, cand_ids = docs, doc_ids  # [B, 1+N, D], [B, 1+N]
            labels = torch.zeros(b, dtype=torch.long, device=docs.device)
        mask = candidate_mask(cand_ids, labels, positives)  # [B, C]
        return Candidates(cands, cand_ids, labels, mask)

    @staticmethod
    def base_stats(
        logits: torch.Tensor, cands: Candidates, scale: torch.Tensor
    ) -> dict[str, float]:
        """``temperature``, ``masked`` (known positives, padding excluded) and ``acc``."""
        with torch.no_grad():
            padded = (cands.ids < 0).expand_as(cands.mask)
            return {
                "temperature": float(1.0 / scale),
                "masked": float((~cands.mask & ~padded).sum()),
                "acc": float((logits.argmax(1) == cands.labels).float().mean()),
            }

    def forward(
        self,
        q: torch.Tensor,
        docs: torch.Tensor,
        doc_ids: torch.Tensor,
        pos_sets: torch.Tensor,
        teacher_scores: torch.Tensor | None = None,
        teacher: TeacherFn | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and stats for one (local) batch.

        Args:
            q: ``[B, D]`` query embeddings.
            docs: ``[B, 1+N, D]`` positive then negatives per query.
            doc_ids: ``[B, 1+N]`` corpus ids, -1 for empty slots.
            pos_sets: ``[B, P]`` labelled positives per query, -1 padded.
            teacher_scores: ``[B, 1+N]`` a teacher's scores of each query's own candidates;
                ignored here (accepted so that losses are interchangeable).
            teacher: ``cand_ids [C] -> [B, C]`` a teacher's scores of any candidate columns;
                ignored here.

        Returns:
            Scalar loss (mean over local queries) and stats: ``temperature``, ``masked``
            (candidates masked as known positives, padding excluded) and ``acc`` (share of
            queries whose positive scores highest).
        """
        cands = self.candidates(docs, doc_ids, pos_sets)
        scale = self.scale
        logits = infonce_logits(q, cands.cands, cands.mask, scale)
        loss = F.cross_entropy(logits, cands.labels)
        return loss, self.base_stats(logits, cands, scale)
