"""Logs every mining pass (miner intelligence, false-negative rate, rule drop counts)."""

from __future__ import annotations

import logging
import math

import lightning.pytorch as pl

log = logging.getLogger(__name__)


class FalseNegativeMonitor(pl.Callback):
    """Sends the DataModule's mining measurements to every logger once per mining pass.

    The measurements themselves (``miner/ndcg@10``, ``mining/fn_rate``, ``mining/dropped_*``,
    ...) are computed by :func:`zelo.eval.measure.mining_stats` when the DataModule mines.
    """

    def __init__(self) -> None:
        self._logged = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        history = getattr(trainer.datamodule, "mining_history", [])
        for stats in history[self._logged :]:
            numeric = {
                k: float(v)
                for k, v in stats.items()
                if isinstance(v, (int, float)) and math.isfinite(float(v))
            }
            for logger in trainer.loggers:
                logger.log_metrics(numeric, step=trainer.global_step)
        self._logged = len(history)
