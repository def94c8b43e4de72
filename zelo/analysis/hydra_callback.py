"""Hydra callback: analyse the sweep folder once every job of a multirun has returned."""

from __future__ import annotations

import logging
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class LafferCallback(Callback):
    """Writes ``results.csv``, ``laffer.png``, ``laffer.json`` (and ``surface.png``) into the sweep.

    Enabled with ``hydra/callbacks=laffer``. A failed analysis is logged and the sweep exits
    non-zero (its jobs' results stay on disk); rerun it with
    ``python -m zelo.analysis <sweep_dir>``.

    Args:
        wandb: also log the summary run to W&B (offline unless ``WANDB_MODE=online``).
        n_boot: bootstrap resamples for the optimum's CI.
    """

    def __init__(self, wandb: bool = True, n_boot: int = 1000) -> None:
        self.use_wandb = wandb
        self.n_boot = n_boot

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            from zelo.analysis.report import write_outputs

            write_outputs(config.hydra.sweep.dir, use_wandb=self.use_wandb, n_boot=self.n_boot)
        except Exception:  # the jobs' results are safe on disk; the analysis can be rerun
            from zelo.run.sweep import end_step_failed

            end_step_failed()
            log.exception(
                "the Laffer analysis of the sweep failed; rerun: python -m zelo.analysis %s",
                config.hydra.sweep.get("dir"),
            )
