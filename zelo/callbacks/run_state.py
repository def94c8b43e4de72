"""Callbacks that carry run state forward: each pass's teacher to the loss, dev feedback to an
adaptive miner. The pipeline adds both to every run, whatever ``callbacks`` says."""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl

from zelo.keys import dev_metric
from zelo.mining.base import Miner

log = logging.getLogger(__name__)


class BindTeacher(pl.Callback):
    """Hands the loss the teacher of the latest mining pass (the loss owns its teacher)."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        latest = trainer.datamodule.latest_pass
        pl_module.loss.bind_teacher(None if latest is None else latest.teacher)


class MinerFeedback(pl.Callback):
    """Tells the miner the dev nDCG@10 before each mining pass, and keeps its state in checkpoints.

    The zero-shot dev value (the ``validate`` run before fitting) is handed over for the first
    pass; the value after each epoch for the pass that follows it. A fixed miner ignores both.

    Args:
        miner: the run's miner (the DataModule's).
    """

    def __init__(self, miner: Miner) -> None:
        self.miner = miner
        self.last_dev: float | None = None

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "validate":  # the zero-shot dev pass
            self.last_dev = dev_metric(trainer.callback_metrics)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or not self.miner.adaptive:
            return
        if trainer.check_val_every_n_epoch != 1:
            log.warning("%s expects validation every epoch", type(self.miner).__name__)
        if self.last_dev is not None:
            self.miner.feedback(0, self.last_dev)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fresh = dev_metric(trainer.callback_metrics)
        self.last_dev = self.last_dev if fresh is None else fresh
        following = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and 0 <= trainer.max_epochs <= following
        if self.miner.adaptive and self.last_dev is not None and not last:
            self.miner.feedback(following, self.last_dev)

    def state_dict(self) -> dict[str, Any]:
        """The miner's state and the latest dev nDCG@10 (saved in training checkpoints)."""
        return {"miner": self.miner.state_dict(), "last_dev": self.last_dev}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("miner"):
            self.miner.load_state_dict(state_dict["miner"])
            log.info("resumed %s's state: %s", type(self.miner).__name__, state_dict["miner"])
        if state_dict.get("last_dev") is not None:
            self.last_dev = float(state_dict["last_dev"])
