"""The best trial of a hyper-parameter search, chosen on dev, and its test score, reported once.

Each trial's objective is its dev metric (``optimized_metric``, ``val/ndcg@10``); test metrics
never steer the search. When the search ends, :class:`BestTrialCallback` picks the trial with the
best dev value and writes ``best_trial.json`` (its settings, dev and test nDCG@10) into the sweep
folder.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from zelo.analysis.results import job_dirs, read_metrics, read_overrides
from zelo.keys import DEV_NDCG, TEST_PREFIX, VAL_PREFIX
from zelo.utils.io import atomic_write_json

log = logging.getLogger(__name__)

BEST_FILE = "best_trial.json"


def best_trial(
    sweep_dir: str | Path, objective: str = DEV_NDCG, maximize: bool = True
) -> dict[str, Any]:
    """The finished trial with the best ``objective`` and its test counterpart.

    Args:
        sweep_dir: the search's sweep folder (one job folder per trial).
        objective: the dev metric the search optimised (a ``val/`` key of ``metrics.json``).
        maximize: higher is better.

    Returns:
        ``job``, ``overrides``, ``objective``, ``value``, ``test_metric``, ``test_value`` and
        ``n_trials`` (trials with a finite objective).

    Raises:
        ValueError: no finished trial has a finite ``objective``.
    """
    test_key = objective.replace(VAL_PREFIX, TEST_PREFIX, 1)
    trials = []
    for job in job_dirs(sweep_dir):
        metrics = read_metrics(job) or {}
        value = metrics.get(objective)
        if isinstance(value, (int, float)) and math.isfinite(value):
            trials.append((job, float(value), metrics.get(test_key)))
    if not trials:
        raise ValueError(f"no finished trial with {objective} in {sweep_dir}")
    sign = 1.0 if maximize else -1.0
    job, value, test = max(trials, key=lambda t: sign * t[1])  # first of equals
    return {
        "job": job.relative_to(sweep_dir).as_posix(),
        "overrides": read_overrides(job),
        "objective": objective,
        "value": value,
        "test_metric": test_key,
        "test_value": test,
        "n_trials": len(trials),
    }


class BestTrialCallback(Callback):
    """Writes ``best_trial.json`` and logs the best trial's test metric when the search ends.

    Args:
        maximize: higher objective is better (the sweeper's ``direction``).
    """

    def __init__(self, maximize: bool = True) -> None:
        self.maximize = maximize

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            best = best_trial(sweep_dir, str(config.optimized_metric), self.maximize)
        except ValueError as err:
            log.error("%s", err)
            return
        atomic_write_json(sweep_dir / BEST_FILE, best)
        log.info(
            "best of %d trials on the dev set: %s = %.4f (%s); its %s = %s",
            best["n_trials"],
            best["objective"],
            best["value"],
            ", ".join(f"{k}={v}" for k, v in best["overrides"].items()),
            best["test_metric"],
            best["test_value"],
        )
