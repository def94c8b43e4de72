"""The frame around one training job: its lock, its signal handlers, its failure record, the
callbacks that checkpoint and guard it, where it resumes from, and how its loggers close."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zelo.errors import ConfigError
from zelo.keys import METRICS_FILE
from zelo.run import signals
from zelo.run.checkpoint import TrainingCheckpoint, last_checkpoint, usable_checkpoint
from zelo.run.guard import FiniteGuard
from zelo.run.identity import check_finished_folder, config_identity
from zelo.run.lock import JobLock, primary_process, who
from zelo.run.outcome import clear_failure, exit_code, in_sweep, record_failure
from zelo.run.signals import handle_signals
from zelo.run.wandb_ids import finish_wandb
from zelo.utils.io import create_temporary_folder, remove_temporary, sweep_temporaries
from zelo.utils.owned import install_folder

log = logging.getLogger(__name__)


def finished(cfg: DictConfig, out_dir: Path, refuse: bool = True) -> dict[str, Any] | None:
    """The job's metrics when it is done with this config (and done jobs are skipped), else
    ``None``.

    Args:
        refuse: raise when the folder holds the finished run of another config (else return
            ``None`` then).

    Raises:
        ConfigError: with ``refuse``, the folder holds the finished run of another config (see
            :func:`zelo.run.identity.check_finished_folder`).
    """
    metrics_path = out_dir / METRICS_FILE
    if not metrics_path.exists():
        return None
    try:
        check_finished_folder(out_dir, cfg)
    except ConfigError:
        if refuse:
            raise
        return None
    if not cfg.get("skip_if_done", True):
        return None
    log.info("%s exists, made with this config: job already done, skipping", metrics_path)
    clear_failure(out_dir)  # a refused launch of another config may have left one
    return json.loads(metrics_path.read_text())


@contextmanager
def job_slot(out_dir: Path) -> Iterator[JobLock]:
    """Hold ``out_dir`` for this process while the job runs.

    Yields the lock; when another live process holds the folder, ``lock.held`` is false and the
    caller skips the job. While held: SIGTERM/SIGINT stop the job cleanly, an earlier
    ``failed.json`` is cleared, and an error leaves a new one.
    """
    lock = JobLock(out_dir)
    if not lock.acquire():
        log.warning("%s is being trained by %s: skipping it here", out_dir, who(lock.holder))
        yield lock
        return
    try:
        with handle_signals():
            clear_failure(out_dir)
            for folder in (out_dir, last_checkpoint(out_dir).parent):  # held: all ours are stale
                sweep_temporaries(folder, exclusive=True)
            try:
                yield lock
            except Exception as err:
                if primary_process():
                    record_failure(out_dir, err)
                raise
    finally:
        lock.release()


@dataclass(frozen=True)
class JobCallbacks:
    """The callbacks every job gets, after the configured ones: the divergence guard, then the
    checkpoint (Lightning runs checkpoint callbacks last, so it sees the guard's verdict)."""

    guard: FiniteGuard
    checkpoint: TrainingCheckpoint

    @property
    def all(self) -> list:
        """Both, in the order the trainer takes them."""
        return [self.guard, self.checkpoint]


def run_callbacks(cfg: DictConfig, out_dir: Path) -> JobCallbacks:
    """Build the job's own callbacks (see :class:`JobCallbacks`)."""
    every = cfg.get("checkpoint", {}).get("every_n_minutes", 10.0)
    return JobCallbacks(
        guard=FiniteGuard(allow_no_negatives=bool(cfg.get("allow_no_negatives", False))),
        checkpoint=TrainingCheckpoint(
            last_checkpoint(out_dir).parent,
            every_n_minutes=every,
            seed=cfg.seed,
            config=config_identity(cfg),
            keep_final=bool(cfg.get("keep_checkpoints", False)),
        ),
    )


def resume_checkpoint(
    cfg: DictConfig, out_dir: Path, checkpoint: TrainingCheckpoint
) -> dict[str, Any]:
    """``Trainer.fit`` arguments: ``ckpt_path`` if given, else the job's own ``last.ckpt`` left
    by a stopped run of this config, else nothing. Either is read as tensors only."""
    if cfg.get("ckpt_path"):
        return {"ckpt_path": str(cfg.ckpt_path), "weights_only": True}
    if not cfg.get("resume", True):
        return {}
    last = usable_checkpoint(last_checkpoint(out_dir), checkpoint.config)
    if last is None:
        return {}
    checkpoint.owns_file = True
    log.info("resuming the interrupted job from %s", last)
    return {"ckpt_path": str(last), "weights_only": True}


def check_trained(cfg: DictConfig, trainer: Any) -> None:
    """Refuse to report a student that was never trained (it would be plotted as a point).

    Raises:
        ConfigError: the fit ran no optimisation step.
    """
    if trainer.global_step > 0:
        return
    settings = ", ".join(
        f"trainer.{k}={OmegaConf.select(cfg, f'trainer.{k}')}"
        for k in ("max_epochs", "max_steps", "limit_train_batches")
    )
    raise ConfigError(
        f"training ran no step ({settings}): an untrained student is not a result, so no "
        f"{METRICS_FILE} is written; give it at least one step"
    )


def keep_student(cfg: DictConfig) -> bool:
    """``save_student`` if set; unset (null): single runs keep the student, sweep jobs do not."""
    value = cfg.get("save_student")
    return bool(value) if value is not None else not in_sweep()


def save_student(encoder: Any, path: Path) -> None:
    """Save the student as a SentenceTransformer folder: written whole into a temporary folder,
    then put in place replacing only the files zelo saved there before (see
    :func:`zelo.utils.owned.install_folder`); other files in ``path`` are kept."""
    tmp = create_temporary_folder(path)
    try:
        encoder.save_sentence_transformer(tmp)
        kept = install_folder(tmp, path)
    except NotImplementedError as err:
        log.warning("student not saved: %s", err)
        return
    finally:
        remove_temporary(tmp)  # gone already when installed
    log.info(
        "student saved as a SentenceTransformer folder: %s%s",
        path,
        f" (files not zelo's kept there: {', '.join(kept)})" if kept else "",
    )


def close_loggers(loggers: list[Any], error: BaseException | None = None) -> None:
    """Finalise every logger and finish the W&B run (the next job of a sweep starts a new one):
    a success, a failure, or, when SIGTERM stopped the job, a preemption."""
    for lg in loggers:
        try:
            lg.finalize("success" if error is None else "failed")
        except OSError as err:  # a full disk: the run's own error says so already
            log.error("could not finalise %s: %s", type(lg).__name__, err)
        except Exception:  # a broken logger must not hide the run's own error
            log.exception("could not finalise %s", type(lg).__name__)
    if error is None:
        finish_wandb()
    elif isinstance(error, signals.RunInterrupted):
        finish_wandb(error.exit_code, preempted=error.signum in signals.PREEMPTED)
    elif isinstance(error, SystemExit):  # a scheduler (submitit) requeues the preempted job
        finish_wandb(1, preempted=True)
    else:
        finish_wandb(exit_code(error))
