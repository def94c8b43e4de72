"""A test-only callback that holds a training run at a known point, so that a test can send it a
signal there instead of racing a run whose batches take milliseconds.

Subprocess tests load it with ``PYTHONPATH=tests/support``, ``PAUSE_RELEASE=FILE`` and
``+callbacks.pause._target_=pause.PauseAtStep +callbacks.pause.step=4`` (the file is named in
the environment, not in an override, so that no path enters a sweep job's folder name)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl


class PauseAtStep(pl.Callback):
    """Wait at the start of the batch that follows global step ``step`` until the file
    ``$PAUSE_RELEASE`` exists (at most ``timeout_s``); once per process."""

    def __init__(self, step: int, timeout_s: float = 120.0) -> None:
        self.step = step
        self.release = Path(os.environ["PAUSE_RELEASE"])
        self.timeout_s = timeout_s
        self.done = False

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.done or trainer.global_step != self.step:
            return
        self.done = True
        deadline = time.monotonic() + self.timeout_s
        while not self.release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
