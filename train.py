"""zelo's entry point: ``python train.py [overrides]`` or ``python train.py -m miner=a,b seed=0,1``."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from zelo.errors import ZeloError
from zelo.schemas import register_configs

log = logging.getLogger("zelo.train")
register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from zelo.pipeline import train

    try:
        metrics = train(cfg)
    except ZeloError as err:  # bad input: one clear message, non-zero exit, nothing written
        log.error("%s", err)
        sys.exit(2)
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
