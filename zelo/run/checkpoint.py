"""In-training checkpoints: ``last.ckpt`` once every few minutes of training and when a stop
signal arrives, written atomically, read back as tensors only, with what a resumed job needs to
finish as if it had never stopped.

Besides Lightning's own state (weights, optimiser, scheduler, loop progress), a checkpoint
carries the train loader's position, the random state, the metrics so far, the mining passes so
far and the run's config identity (:mod:`zelo.run.identity`). Each epoch's
randomness is reseeded from ``(seed, epoch)`` at its first batch, so a job resumed at an epoch
boundary draws the same dropout masks as one that never stopped; a job resumed mid-epoch
continues from the random state saved with the checkpoint.

A job shorter than ``every_n_minutes`` writes no checkpoint unless it is stopped: a checkpoint of
the student with its optimiser state is large (140 MB for the static student), and writing one
every epoch made short sweep jobs a third slower.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
import zipfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from zelo.errors import DiskFull, zelo_cause
from zelo.keys import CHECKPOINT_DIR, LAST_CHECKPOINT, MINING_EPOCH
from zelo.run import signals
from zelo.run.guard import check_weights
from zelo.run.identity import differences
from zelo.run.loggers import JobCSVLogger
from zelo.run.resumable import ResumableDataLoader
from zelo.run.rng import reseed, rng_state, set_rng_state
from zelo.types import MiningPass
from zelo.utils.io import temporary_file

log = logging.getLogger(__name__)

CORRUPT_SUFFIX = ".corrupt"  # unreadable, or holding more than tensors and plain values
OTHER_CONFIG_SUFFIX = ".other-config"  # a zelo checkpoint of another config, or not zelo's


def last_checkpoint(out_dir: Path) -> Path:
    """Where a job keeps its latest training checkpoint."""
    return out_dir / CHECKPOINT_DIR / LAST_CHECKPOINT


class AtomicCheckpointIO(CheckpointIO):
    """Lightning's checkpoint file I/O, made safe: a save streams ``torch.save`` into a new
    temporary file beside the target (created ``O_EXCL``), fsyncs and renames it; the temporary
    goes on any error. A load reads tensors and plain values only (``weights_only``), so no
    file can run code when a job resumes, whatever ``ckpt_path`` names."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        try:
            with temporary_file(path) as (fh, tmp):
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
                os.replace(tmp, path)
        except OSError as err:
            cause = zelo_cause(err)
            if isinstance(cause, DiskFull):
                raise DiskFull(f"checkpoint {path} not written: {cause}") from None
            raise

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)

    def remove_checkpoint(self, path: Any) -> None:
        Path(path).unlink(missing_ok=True)


def checkpoint_problem(path: Path, config: dict[str, str] | None = None) -> tuple[str, str] | None:
    """Why ``path`` cannot resume this job, as ``(reason, suffix to move it aside)``; ``None``:
    it can.

    A damaged or truncated file fails the zip archive's structure or CRC check (nothing is
    unpickled); a file holding anything but tensors and plain values fails a weights-only load
    (which maps the tensors, reading none); a checkpoint that does not record ``config`` (the
    run's config identity; another config's, or not zelo's) is not resumed.
    """
    try:
        if not zipfile.is_zipfile(path):
            return "not a zip archive (truncated or not a torch checkpoint)", CORRUPT_SUFFIX
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        return f"unreadable ({err})", CORRUPT_SUFFIX
    if bad is not None:
        return f"damaged member {bad}", CORRUPT_SUFFIX
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, OSError, EOFError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"holds more than tensors and plain values ({first})", CORRUPT_SUFFIX
    if config is None:
        return None
    saved = saved_config(state)
    if saved is None:
        return "not a zelo training checkpoint", OTHER_CONFIG_SUFFIX
    diff = differences(saved, config)
    if diff:
        more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
        return f"made with another config ({'; '.join(diff[:3])}{more})", OTHER_CONFIG_SUFFIX
    return None


def saved_config(state: Any) -> dict[str, str] | None:
    """The config identity a zelo training checkpoint records, else ``None``."""
    callbacks = state.get("callbacks") if isinstance(state, dict) else None
    mine = callbacks.get(TrainingCheckpoint.__qualname__) if isinstance(callbacks, dict) else None
    value = mine.get("config") if isinstance(mine, dict) else None
    return value if isinstance(value, dict) else None


def usable_checkpoint(path: Path, config: dict[str, str] | None = None) -> Path | None:
    """``path`` if it can resume this job (see :func:`checkpoint_problem`); otherwise it is moved
    aside (renamed, never deleted) with one warning, and the job starts again."""
    if not path.exists():
        return None
    problem = checkpoint_problem(path, config)
    if problem is None:
        return path
    reason, suffix = problem
    aside = path.with_name(path.name + suffix)
    n = 1
    while aside.exists() or aside.is_symlink():  # an earlier one stays
        n += 1
        aside = path.with_name(f"{path.name}{suffix}.{n}")
    os.replace(path, aside)
    log.warning(
        "checkpoint %s is not resumed: %s; moved aside to %s; the job starts again",
        path,
        reason,
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
    """Writes ``<dirpath>/last.ckpt`` at the first batch or epoch end once ``every_n_minutes`` of
    training have passed since the start or the last save, atomically, after checking the
    weights; with ``keep_final``, also at the end of the last epoch.

    Also the place where a stop request (SIGTERM, SIGINT, a scheduler's preemption signal) takes
    effect: at the end of the running batch it saves, then stops (see :mod:`zelo.run.signals`).

    Args:
        dirpath: the job's checkpoint folder.
        every_n_minutes: training time between two saves (``None``: only when stopped).
        seed: the run's seed; each epoch's randomness is reseeded from it.
        config: the run's config identity (:mod:`zelo.run.identity`), recorded so that only
            this config resumes.
        keep_final: also save when training ends (the checkpoint is kept).
    """

    def __init__(
        self,
        dirpath: str | Path,
        every_n_minutes: float | None = 10.0,
        seed: int = 0,
        config: dict[str, str] | None = None,
        keep_final: bool = False,
    ):
        self.dirpath = Path(dirpath)
        self.every_s = None if every_n_minutes is None else 60.0 * float(every_n_minutes)
        self.seed = seed
        self.config = config or {}
        self.keep_final = keep_final
        self.last_saved: str | None = None  # "epoch E, step S"
        self.owns_file = False  # last.ckpt is this job's: saved here, or resumed after checks
        self._trainer: pl.Trainer | None = None
        self._last_time = time.monotonic()
        self._resumed: dict[str, Any] | None = None
        self._rng_to_restore: dict[str, Any] | None = None
        self._loader_to_restore: dict[str, int] | None = None
        self.history: list[dict[str, float]] = []  # this process's mining passes' stats

    def on_mining_pass(self, mining_pass: MiningPass) -> None:
        """Keep the pass's stats for the checkpoint (a resumed job reports every pass)."""
        self.history.append(dict(mining_pass.stats))

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
            return  # the epoch end decides next, once the epoch is complete
        self._save_or_stop(trainer, pl_module, final=False)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save_or_stop(trainer, pl_module, final=self.keep_final and last_epoch(trainer))
        signals.training(False)  # next: the next epoch's data (and mining pass), or the end

    def _save_or_stop(self, trainer: pl.Trainer, module: pl.LightningModule, final: bool) -> None:
        """Save when due, asked, stopping or ``final`` (every rank agrees), then honour a stop."""
        stop = signals.stop_requested(trainer)
        due = self.every_s is not None and time.monotonic() - self._last_time >= self.every_s
        save = stop or final or due or signals.checkpoint_requested()
        if trainer.world_size > 1:  # a save is collective: the ranks decide together
            save = trainer.strategy.reduce_boolean_decision(save, all=False)
        if save:
            self.save(trainer, module)
        if stop:
            signals.stop(self._where(trainer))

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

    def save(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """Check ``module``'s weights, then write ``last.ckpt`` atomically (rank zero writes; see
        :class:`AtomicCheckpointIO`)."""
        check_weights(trainer, module)
        for logger in trainer.loggers:  # the logs on disk reach as far as the checkpoint
            logger.save()
        path = self.dirpath / LAST_CHECKPOINT
        path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(path, weights_only=False)
        self.owns_file = True
        self._last_time = time.monotonic()
        self.last_saved = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
        signals.checkpointed(self.saved)
        log.debug("checkpoint saved: %s (%s)", path, self.last_saved)

    def remove_own(self) -> None:
        """Delete ``last.ckpt`` if this job wrote (or resumed) it, then the folder if empty;
        anything else there stays."""
        if self.owns_file:
            (self.dirpath / LAST_CHECKPOINT).unlink(missing_ok=True)
            self.owns_file = False
        try:
            self.dirpath.rmdir()
        except OSError:  # absent, or someone else's files are in it
            pass

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        if trainer is None:
            return {}
        return {
            "config": self.config,
            "rng": rng_state(),
            "metrics": floats(dict(trainer.callback_metrics)),
            "mining_history": list(self.history),
            "loader": loader.state_dict() if (loader := train_loader(trainer)) else None,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        self._resumed = state_dict
        self._rng_to_restore = state_dict.get("rng")
        self._loader_to_restore = state_dict.get("loader")

    def carry_over(
        self, fitted: dict[str, float]
    ) -> tuple[dict[str, float], list[dict[str, float]]]:
        """This process's metrics and mining passes, completed by those of the run it resumed.

        Passes this process redid (same epoch or later) replace the saved ones.

        Args:
            fitted: the trainer's metrics after ``fit`` in this process.

        Returns:
            The merged metrics and the whole run's mining passes' stats, oldest first.
        """
        history = list(self.history)
        if self._resumed is None:
            return fitted, history
        metrics = {**self._resumed.get("metrics", {}), **fitted}
        first = history[0].get(MINING_EPOCH, math.inf) if history else math.inf
        earlier = [
            h for h in self._resumed.get("mining_history", []) if h.get(MINING_EPOCH, -1) < first
        ]
        return metrics, earlier + list(history)


def last_epoch(trainer: pl.Trainer) -> bool:
    """Whether the epoch ending now is the last one of the fit."""
    max_epochs = trainer.max_epochs if trainer.max_epochs is not None else -1
    max_steps = trainer.max_steps if trainer.max_steps is not None else -1
    return (
        trainer.should_stop
        or 0 <= max_epochs <= trainer.current_epoch + 1
        or 0 < max_steps <= trainer.global_step
    )


def train_loader(trainer: pl.Trainer) -> ResumableDataLoader | None:
    """The trainer's current train loader when it can resume mid-epoch, else ``None``."""
    loader = trainer.train_dataloader if trainer.state.fn == "fit" else None
    return loader if isinstance(loader, ResumableDataLoader) else None
