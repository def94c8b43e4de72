"""Gathering tensors across processes (DDP), with and without gradients; identity on one process."""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_sizes(n: int, device: torch.device | str = "cpu") -> list[int]:
    """Every rank's ``n`` (rows it contributes), in rank order; ``[n]`` on one process."""
    _, size = world()
    if size == 1:
        return [int(n)]
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(size)]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.long, device=device))
    return [int(s.item()) for s in sizes]


def rank_offset(n: int, device: torch.device | str = "cpu") -> int:
    """Row index of this rank's first row in a tensor gathered along dim 0 (0 on one process)."""
    rank, _ = world()
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
    _, size = world()
    if size == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    sizes = sizes or gather_sizes(x.shape[0], x.device)
    parts = all_gather(_pad_rows(x, max(sizes)))
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


def gather_no_grad(x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """:func:`gather_with_grad` without gradients (ids, labels): plain ``dist.all_gather``."""
    _, size = world()
    if size == 1:
        return x
    sizes = sizes or gather_sizes(x.shape[0], x.device)
    padded = _pad_rows(x.detach(), max(sizes))
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])
