"""In-training checkpoints: ``last.ckpt`` every epoch and every few minutes, written atomically,
with what a resumed job needs to finish as if it had never stopped.

Besides Lightning's own state (weights, optimiser, scheduler, loop progress), a checkpoint
carries the train loader's position, the random state, the metrics so far and the mining passes
so far. Each epoch's randomness is reseeded from ``(seed, epoch)`` at its first batch, so a job
resumed at an epoch boundary draws the same dropout masks as one that never stopped; a job
resumed mid-epoch continues from the random state saved with the checkpoint.
"""

from __future__ import annotations

import logging
import math
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Checkpoint

from zelo.keys import CHECKPOINT_DIR, LAST_CHECKPOINT
from zelo.run import signals
from zelo.run.guard import check_weights
from zelo.run.loggers import JobCSVLogger
from zelo.run.resumable import ResumableDataLoader
from zelo.run.rng import reseed, rng_state, set_rng_state
from zelo.utils.io import temporary_name

log = logging.getLogger(__name__)

CORRUPT_SUFFIX = ".corrupt"


def last_checkpoint(out_dir: Path) -> Path:
    """Where a job keeps its latest training checkpoint."""
    return out_dir / CHECKPOINT_DIR / LAST_CHECKPOINT


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a readable torch checkpoint (``None``: it can).

    torch checkpoints are zip archives; a truncated or damaged one fails the archive's structure or
    CRC check, which reads the file once and unpickles nothing.
    """
    try:
        if not zipfile.is_zipfile(path):
            return "not a zip archive (truncated or not a torch checkpoint)"
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        return f"unreadable ({err})"
    return None if bad is None else f"damaged member {bad}"


def usable_checkpoint(path: Path) -> Path | None:
    """``path`` if it is a readable checkpoint; an unreadable one is moved aside (``.corrupt``)
    with one warning, and the job starts again."""
    if not path.exists():
        return None
    problem = checkpoint_problem(path)
    if problem is None:
        return path
    aside = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, aside)
    log.warning(
        "checkpoint %s is unusable: %s; moved aside to %s; the job starts again",
        path,
        problem,
        aside,
    )
    return None


def floats(metrics: dict[str, Any]) -> dict[str, float]:
    """Scalar entries of a metrics dict as floats (tensors unwrapped)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.item()
        if isinstance(value, (int, float)):
            out[key] = float(value)
    return out


class TrainingCheckpoint(Checkpoint):
    """Writes ``<dirpath>/last.ckpt`` at every epoch end and at the first batch end after
    ``every_n_minutes``, atomically (temporary file, fsync, rename), after checking the weights.

    Also the place where a stop request (SIGTERM, SIGINT, a scheduler's preemption signal) takes
    effect: at the end of the running batch it saves, then stops (see :mod:`zelo.run.signals`).

    Args:
        dirpath: the job's checkpoint folder.
        every_n_minutes: longest time between two saves while training (``None``: epochs only).
        seed: the run's seed; each epoch's randomness is reseeded from it.
    """

    def __init__(self, dirpath: str | Path, every_n_minutes: float | None = 10.0, seed: int = 0):
        self.dirpath = Path(dirpath)
        self.every_s = None if every_n_minutes is None else 60.0 * float(every_n_minutes)
        self.seed = seed
        self.last_saved: str | None = None  # "epoch E, step S"
        self._trainer: pl.Trainer | None = None
        self._last_time = time.monotonic()
        self._resumed: dict[str, Any] | None = None
        self._rng_to_restore: dict[str, Any] | None = None
        self._loader_to_restore: dict[str, int] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_time = time.monotonic()
        signals.own_sigterm(distributed=trainer.world_size > 1)
        signals.training(True)
        if self._resumed is not None:  # rows a stopped process logged after its checkpoint go
            for logger in trainer.loggers:
                if isinstance(logger, JobCSVLogger):
                    logger.drop_from(trainer.global_step)
        loader = train_loader(trainer)
        state, self._loader_to_restore = self._loader_to_restore, None
        # resumed mid-epoch: skip the batches already trained on. Lightning restores a loader's
        # position only when it builds the loader after loading the checkpoint, which
        # `estimated_stepping_batches` prevents; the loader has not started iterating yet here
        if loader is not None and state and state["served"] < trainer.num_training_batches:
            loader.load_state_dict(state)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        signals.training(False)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        signals.training(False)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        signals.training(True)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        signals.training(False)  # a signal during validation stops at once

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        signals.training(trainer.training or trainer.state.fn == "fit")

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == 0:  # whatever ran before (loaders, mining), each epoch starts alike
            reseed(self.seed, trainer.current_epoch)
        elif self._rng_to_restore is not None:  # resumed mid-epoch: continue its random stream
            set_rng_state(self._rng_to_restore)
        self._rng_to_restore = None

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            return  # the epoch end saves (and stops) next, once the epoch is complete
        stop = signals.stop_requested(trainer)
        due = self.every_s is not None and time.monotonic() - self._last_time >= self.every_s
        if stop or due or signals.checkpoint_requested():
            self.save(trainer)
        if stop:
            signals.stop(self._where(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)
        if signals.stop_requested(trainer):
            signals.stop(self._where(trainer))
        signals.training(False)  # next: the next epoch's data (and mining pass), or the end

    @staticmethod
    def _where(trainer: pl.Trainer) -> str:
        return f"training (epoch {trainer.current_epoch}, step {trainer.global_step})"

    @property
    def saved(self) -> str:
        """Where the latest checkpoint of this process stands, for messages."""
        return (
            f"{self.dirpath / LAST_CHECKPOINT} ({self.last_saved})"
            if self.last_saved
            else "none saved yet"
        )

    def save(self, trainer: pl.Trainer) -> None:
        """Check the weights, then write ``last.ckpt`` atomically (rank zero renames)."""
        check_weights(trainer, trainer.lightning_module)
        for logger in trainer.loggers:  # the logs on disk reach as far as the checkpoint
            logger.save()
        path = self.dirpath / LAST_CHECKPOINT
        tmp = temporary_name(path)
        trainer.save_checkpoint(tmp, weights_only=False)
        if trainer.is_global_zero:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        self._last_time = time.monotonic()
        self.last_saved = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
        signals.checkpointed(self.saved)
        log.debug("checkpoint saved: %s (%s)", path, self.last_saved)

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        if trainer is None:
            return {}
        return {
            "rng": rng_state(),
            "metrics": floats(dict(trainer.callback_metrics)),
            "mining_history": [p.stats for p in trainer.datamodule.passes],
            "loader": loader.state_dict() if (loader := train_loader(trainer)) else None,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        self._resumed = state_dict
        self._rng_to_restore = state_dict.get("rng")
        self._loader_to_restore = state_dict.get("loader")

    def carry_over(
        self, fitted: dict[str, float], history: list[dict[str, float]]
    ) -> tuple[dict[str, float], list[dict[str, float]]]:
        """This process's metrics and mining passes, completed by those of the run it resumed.

        Passes this process redid (same epoch or later) replace the saved ones.

        Args:
            fitted: the trainer's metrics after ``fit`` in this process.
            history: the mining passes this process ran.

        Returns:
            The merged metrics and the whole run's mining passes, oldest first.
        """
        if self._resumed is None:
            return fitted, history
        metrics = {**self._resumed.get("metrics", {}), **fitted}
        first = history[0].get("mining/epoch", math.inf) if history else math.inf
        earlier = [
            h for h in self._resumed.get("mining_history", []) if h.get("mining/epoch", -1) < first
        ]
        return metrics, earlier + list(history)


def train_loader(trainer: pl.Trainer) -> ResumableDataLoader | None:
    """The trainer's current train loader when it can resume mid-epoch, else ``None``."""
    loader = trainer.train_dataloader if trainer.state.fn == "fit" else None
    return loader if isinstance(loader, ResumableDataLoader) else None
