"""Refuse broken runs: a non-finite loss, gradient norm or weight, or a mining pass that leaves
every training query without a negative, stops the job before it can look like a result."""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch

from zelo.errors import TrainingDiverged, ZeloError
from zelo.types import MiningPass

log = logging.getLogger(__name__)


class EmptyMining(ZeloError):
    """A mining pass found no negative for any training query."""


def grad_norm(grads: list[torch.Tensor]) -> float:
    """Global L2 norm of dense and sparse gradients (a sparse one counts its coalesced values)."""
    squares = [(g.coalesce().values() if g.is_sparse else g).float().pow(2).sum() for g in grads]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


def nonfinite_parameters(module: torch.nn.Module) -> list[tuple[str, int]]:
    """``(name, count)`` of each parameter holding NaN or infinite values."""
    bad = []
    for name, p in module.named_parameters():
        count = int((~torch.isfinite(p.detach())).sum())
        if count:
            bad.append((name, count))
    return bad


def check_mining(neg_ids: torch.Tensor, num_negatives: int, allow_empty: bool) -> None:
    """Stop when ``neg_ids [Q, N]`` (``-1`` where short) holds no negative at all.

    Raises:
        EmptyMining: N > 0, Q > 0, every entry is ``-1`` and ``allow_empty`` is false.
    """
    if allow_empty or num_negatives <= 0 or neg_ids.numel() == 0 or bool((neg_ids >= 0).any()):
        return
    raise EmptyMining(
        f"the mining pass left all {neg_ids.shape[0]} training queries without a negative "
        "(the miner's rules dropped every candidate; check its settings, e.g. miner.margin or "
        "miner.percentage); set allow_no_negatives=true to train on in-batch negatives only"
    )


class FiniteGuard(pl.Callback):
    """Stops training at the first non-finite loss or gradient norm, and checks the weights at
    every epoch end and before every checkpoint (it runs before the checkpoint callback). It
    subscribes to the mining passes and refuses one that found no negative at all.

    Args:
        allow_no_negatives: train on even when a mining pass found no negative at all.
    """

    def __init__(self, allow_no_negatives: bool = False) -> None:
        self.allow_no_negatives = allow_no_negatives

    def on_mining_pass(self, mining_pass: MiningPass) -> None:
        """Stop at once when the pass left every training query without a negative."""
        check_mining(
            mining_pass.mined.neg_ids, mining_pass.input.num_negatives, self.allow_no_negatives
        )

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        norm = grad_norm([p.grad for p in pl_module.parameters() if p.grad is not None])
        if not math.isfinite(norm):
            raise diverged(trainer, f"the gradient norm is {norm}")

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *_: Any
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not bool(torch.isfinite(loss.detach()).all()):
            raise diverged(trainer, f"the training loss is {float(loss)}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        check_weights(trainer, pl_module)


def check_weights(trainer: pl.Trainer, module: torch.nn.Module) -> None:
    """Raise :class:`TrainingDiverged` when any weight of ``module`` is NaN or infinite."""
    bad = nonfinite_parameters(module)
    if bad:
        total = sum(n for _, n in bad)
        raise diverged(trainer, f"{total} weights are NaN or infinite (first: {bad[0][0]})")


def diverged(trainer: pl.Trainer, what: str) -> TrainingDiverged:
    """The one-line error for a diverged run, naming where it happened."""
    return TrainingDiverged(
        f"training diverged at epoch {trainer.current_epoch}, step {trainer.global_step}: {what}; "
        "no results were written (lower model.lr, or check the data and loss settings)"
    )
