"""zelo's entry point: ``python train.py [overrides]`` or ``python train.py -m miner=a,b seed=0,1``."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from zelo.schemas import register_configs

log = logging.getLogger("zelo.train")
register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from zelo.pipeline import train
    from zelo.run.outcome import report
    from zelo.run.signals import RunInterrupted

    try:
        metrics = train(cfg)
    except (Exception, RunInterrupted) as err:  # one line, unless it is a bug
        report(err)  # a single run exits; a failed sweep job is recorded and the sweep goes on
        return None
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
    from zelo.run.sweep import exit_status

    sys.exit(exit_status())
