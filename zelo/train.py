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
    from zelo.cli import discard_run_dir, hydra_run_dir
    from zelo.pipeline import train
    from zelo.run.outcome import exit_code, in_sweep, report
    from zelo.run.signals import RunInterrupted

    try:
        metrics = train(cfg)
    except (Exception, RunInterrupted) as err:  # one line, unless it is a bug
        if exit_code(err) == 2 and not in_sweep():  # bad input: the single run never started
            discard_run_dir(hydra_run_dir())
        report(err)  # a single run exits; a failed sweep job is recorded and the sweep goes on
        return None
    return metrics.get(cfg.optimized_metric)  # what a sweeper (Optuna) optimises


def run() -> None:
    """The console script; a sweep whose jobs failed exits non-zero once it has run them all."""
    from zelo.cli import print_version
    from zelo.run.logs import quiet_logs, quiet_optuna
    from zelo.run.sweep import exit_status

    if print_version(sys.argv, "zelo-train"):
        return
    quiet_logs()  # before Hydra starts: a sweeper's plugins log at its start
    quiet_optuna(sys.argv)
    register_configs()
    main()
    sys.exit(exit_status())


if __name__ == "__main__":
    run()
