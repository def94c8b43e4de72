"""Callbacks that carry run state forward: the mining step of each epoch, dev feedback to an
adaptive miner. The pipeline adds them to every run, whatever ``callbacks`` says; each is handed
what it acts on."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl

from zelo.keys import dev_metric
from zelo.mining.base import Miner
from zelo.run.checkpoint import last_epoch
from zelo.types import MiningPass

log = logging.getLogger(__name__)


class EpochMining(pl.Callback):
    """Mining as a step of the epoch: the first pass before the train loader is built, then one
    after every ``every_n_epochs``-th epoch, for the epoch that follows; each pass's figures go
    to every logger.

    Runs after :class:`MinerFeedback` (the miner has its dev feedback before each pass).

    Args:
        mine: ``epoch -> MiningPass``: mines and publishes a pass (the DataModule's ``mine``).
        scheduled: ``epoch -> epoch`` of the pass that epoch trains on (the DataModule's
            ``scheduled_pass``).
        every_n_epochs: re-mining period (0: once).
    """

    def __init__(
        self,
        mine: Callable[[int], MiningPass],
        scheduled: Callable[[int], int],
        every_n_epochs: int = 0,
    ) -> None:
        self.mine = mine
        self.scheduled = scheduled
        self.every_n_epochs = every_n_epochs
        self.mined_epoch: int | None = None

    @classmethod
    def of(cls, datamodule: Any) -> EpochMining:
        """The mining step of a :class:`~zelo.data.datamodule.RetrievalDataModule`: its ``mine``,
        its ``scheduled_pass`` and its re-mining period (what a training run and the benches use)."""
        return cls(datamodule.mine, datamodule.scheduled_pass, datamodule.remine_every_n_epochs)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and self.mined_epoch is None:  # the loader is built before fit starts
            self._mine(trainer, 0)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a resumed run redoes the pass that was scheduled for its epoch, with that pass's seed
        due = self.scheduled(trainer.current_epoch)
        if due != self.mined_epoch:
            self._mine(trainer, due)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        following = trainer.current_epoch + 1
        k = self.every_n_epochs
        if k and following % k == 0 and not last_epoch(trainer):
            self._mine(trainer, following)

    def _mine(self, trainer: pl.Trainer, epoch: int) -> None:
        stats = self.mine(epoch).stats
        self.mined_epoch = epoch
        finite = {k: v for k, v in stats.items() if math.isfinite(v)}
        for logger in trainer.loggers:
            logger.log_metrics(finite, step=trainer.global_step)


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
