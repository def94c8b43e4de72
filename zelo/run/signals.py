"""Stop a run cleanly on SIGTERM (``kill``, ``timeout``, SLURM), SIGINT (Ctrl-C) and, under
submitit, the scheduler's preemption signal.

While training batches run, a signal is a *request*: at the end of the running batch the job
saves ``last.ckpt`` and then stops (:class:`zelo.run.checkpoint.TrainingCheckpoint` calls
:func:`stop`). Anywhere else (data loading, mining, evaluation), or at a second signal, the job
stops at once and resumes from its latest checkpoint when the command is run again.

A stop raises :class:`RunInterrupted`, which ``train.py`` turns into one line and the exit status
128 + signal number (143 for SIGTERM, 130 for SIGINT). Under submitit (Hydra's
``submitit_slurm`` / ``submitit_local`` launchers), the preemption signal (USR2 unless
``SUBMITIT_PREEMPT_SIGNAL`` says otherwise) is handed, after the checkpoint, to submitit's own
handler, which requeues the job; SIGTERM is then only a cue to checkpoint, as submitit ignores it.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightning.pytorch as pl

log = logging.getLogger(__name__)

PREEMPTED = (signal.SIGTERM,)  # stops that W&B records as preemptions


class RunInterrupted(BaseException):
    """The run was stopped by a signal (a ``BaseException``: nothing may swallow it)."""

    def __init__(self, signum: int, where: str, checkpoint: str) -> None:
        self.signum = signum
        self.where = where
        self.checkpoint = checkpoint
        super().__init__(self.message)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def message(self) -> str:
        return (
            f"stopped by {signal.Signals(self.signum).name} during {self.where} "
            f"(checkpoint: {self.checkpoint}); rerun the same command to resume"
        )


class _State:
    """What the handlers know: the pending request, whether batches are running, where we are."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_batches = False
        self.where = "start-up"
        self.checkpoint = "none saved yet"
        self.checkpoint_requested = False
        self.handover: dict[int, Any] = {}  # signum -> submitit's handler


_state = _State()


def under_submitit() -> bool:
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def preemption_signal() -> signal.Signals:
    """submitit's preemption/timeout signal (``SUBMITIT_PREEMPT_SIGNAL``, default USR2)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return signal.Signals[f"SIG{name}" if not name.startswith("SIG") else name]


@contextmanager
def handle_signals() -> Iterator[None]:
    """Install the handlers for the duration of one job; restore the previous ones after."""
    global _state
    _state = _State()
    ours: list[signal.Signals] = [signal.SIGINT]
    if under_submitit():
        sig = preemption_signal()
        _state.handover[sig] = signal.getsignal(sig)
        ours.append(sig)
    else:
        ours.append(signal.SIGTERM)
    previous = {s: signal.signal(s, _handler) for s in ours}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def phase(where: str) -> None:
    """Name what the job is doing now (for the stop message)."""
    _state.where = where


def training(in_batches: bool) -> None:
    """Say whether training batches are running (a signal then waits for the batch end)."""
    _state.in_batches = in_batches


def checkpointed(description: str) -> None:
    """Record the latest checkpoint (``path (epoch E, step S)``) for the stop message."""
    _state.checkpoint = description


def own_sigterm(distributed: bool) -> None:
    """Replace Lightning's SIGTERM handler for the fit (call once Lightning has set its handlers).

    Under submitit, SIGTERM becomes a cue to checkpoint (Lightning would stop the run with status
    0, and submitit could not requeue it). Under DDP, Lightning's handler broadcasts from inside
    the signal handler, which deadlocks when another rank is inside a collective; ours only
    records the request, and the ranks agree on it at the batch end (:func:`stop_requested`).
    """
    if under_submitit():
        signal.signal(signal.SIGTERM, _checkpoint_cue)
    elif distributed:
        signal.signal(signal.SIGTERM, _handler)


def stop_requested(trainer: pl.Trainer) -> bool:
    """Whether a stop is pending here or on any other rank."""
    pending = _state.signum is not None
    if trainer.world_size > 1:
        pending = trainer.strategy.reduce_boolean_decision(pending, all=False)
    return pending


def checkpoint_requested() -> bool:
    """Whether a checkpoint was asked for (and clear the request)."""
    asked, _state.checkpoint_requested = _state.checkpoint_requested, False
    return asked


def stop(where: str) -> None:
    """Stop now, after the checkpoint: hand over to submitit, or raise :class:`RunInterrupted`."""
    _state.where = where
    _act(_state.signum if _state.signum is not None else signal.SIGTERM)


def _handler(signum: int, frame: Any) -> None:
    if _state.in_batches and _state.signum is None:
        _state.signum = signum
        log.warning(
            "%s received: stopping after the current batch, once a checkpoint is saved "
            "(send it again to stop at once)",
            signal.Signals(signum).name,
        )
        return
    _state.signum = signum
    _act(signum)


def _checkpoint_cue(signum: int, frame: Any) -> None:
    log.warning("SIGTERM received under submitit: checkpointing after the current batch")
    _state.checkpoint_requested = True


def _act(signum: int) -> None:
    handover: Callable[..., Any] | None = _state.handover.get(signum)
    if callable(handover):
        log.warning(
            "%s: preempted during %s (checkpoint: %s); submitit requeues the job, which resumes",
            signal.Signals(signum).name,
            _state.where,
            _state.checkpoint,
        )
        handover(signum, None)
        return
    raise RunInterrupted(signum, _state.where, _state.checkpoint)
