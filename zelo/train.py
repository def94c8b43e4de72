"""``zelo-train`` (or ``python train.py``): train one student, or sweep with ``-m``."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from zelo.schemas import CONF_DIR, register_configs

log = logging.getLogger("zelo.train")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    from zelo.pipeline import train
    from zelo.run.outcome import report
    from zelo.run.signals import RunInterrupted

    try:
        metrics = train(cfg)
    except (Exception, RunInterrupted) as err:  # one line, unless it is a bug
        report(err)  # a single run exits; a failed sweep job is recorded and the sweep goes on
        return None
    return metrics.get(cfg.optimized_metric)  # what a sweeper (Optuna) optimises


def run() -> None:
    """The console script; a sweep whose jobs failed exits non-zero once it has run them all."""
    from zelo.run.sweep import exit_status

    register_configs()
    main()
    sys.exit(exit_status())


if __name__ == "__main__":
    run()
