"""``zelo-train`` (or ``python train.py``): train one student, or sweep with ``-m``."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from zelo.errors import ZeloError
from zelo.schemas import CONF_DIR, register_configs

log = logging.getLogger("zelo.train")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    from zelo.pipeline import train

    try:
        metrics = train(cfg)
    except ZeloError as err:  # bad input: one clear message, non-zero exit, nothing written
        log.error("%s", err)
        sys.exit(2)
    return metrics.get(cfg.optimized_metric)  # what a sweeper (Optuna) optimises


def run() -> None:
    """The console script."""
    register_configs()
    main()


if __name__ == "__main__":
    run()
