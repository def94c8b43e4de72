"""Shared by the loss tests: a teacher from a score table, a call helper, the CPU DDP harness."""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F

from zelo.data.teacher import BatchTeacherScores

NAN = float("nan")


def batch(seed: int = 0, dtype=torch.float64, teacher: bool = False):
    """4 queries, 1+2 slots: a shared positive, a second positive, a labelled negative, padding.

    With ``teacher``, also a random teacher score ``[B, 1+N]`` per own candidate (NaN at padding).
    """
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(4, 8, generator=g, dtype=dtype), dim=-1)
    docs = F.normalize(torch.randn(4, 3, 8, generator=g, dtype=dtype), dim=-1)
    doc_ids = torch.tensor([[10, 11, 12], [10, 13, -1], [20, 21, 22], [30, 31, 20]])
    pos_sets = torch.tensor([[10, -1], [10, 12], [20, 22], [30, -1]])
    if not teacher:
        return q, docs, doc_ids, pos_sets
    scores = torch.rand(4, 3, generator=g).masked_fill(doc_ids < 0, NAN)
    return q, docs, doc_ids, pos_sets, scores


class TableTeacher:
    """A pass's teacher: ``table[query_index, doc id]`` (NaN where the id is -1)."""

    def __init__(self, table: torch.Tensor, softmax_temperature: float = 0.05) -> None:
        self.table = table
        self.softmax_temperature = softmax_temperature

    def __call__(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        out = self.table[query_index][:, cand_ids.clamp(min=0)]  # [B, C]
        return out.masked_fill((cand_ids < 0)[None, :], NAN)


def call(loss_fn, q, docs, doc_ids, pos_sets, table=None, teacher_scores=None, rows=None):
    """Run the loss on one batch that carries ``table`` as its teacher (or none), as the
    collator hands it over."""
    query_index = torch.arange(len(q)) if rows is None else rows
    teacher = None if table is None else BatchTeacherScores(TableTeacher(table), query_index)
    return loss_fn(q, docs, doc_ids, pos_sets, teacher_scores, teacher)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, worker: Callable, world: int, out_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        result = worker(rank)
        if rank == world - 1:
            torch.save(result, out_path)
        dist.barrier()  # every rank is done talking
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    # leave without gloo's teardown: a rank destroying its group while the peer's background
    # thread still holds the socket can abort the process ("terminate called without ...")
    os._exit(0)


def run_ddp(worker: Callable[[int], dict], out_path: str, world: int = 2) -> dict:
    """Run ``worker(rank)`` on ``world`` CPU processes over gloo; the last rank's result."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(free_port())
    torch.multiprocessing.spawn(_entry, args=(worker, world, out_path), nprocs=world, join=True)
    return torch.load(out_path)
