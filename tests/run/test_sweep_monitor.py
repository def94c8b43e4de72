"""Sweep progress (job k/N, ETA) and the failed jobs a sweep ends with."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize
from hydra.core.global_hydra import GlobalHydra

from zelo.keys import FAILED_FILE
from zelo.run.sweep import clock, count_jobs, eta, failed_jobs
from zelo.schemas import register_configs


def multirun_config(overrides: list[str]):
    register_configs()
    GlobalHydra.instance().clear()
    with initialize(config_path="../../conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg


def with_task(cfg, task: list[str]):
    cfg.hydra.overrides.task = task
    return cfg


def test_count_jobs_of_a_grid_and_of_an_experiment() -> None:
    grid = with_task(multirun_config([]), ["miner=random,topk", "seed=0,1,2", "debug=tiny"])
    assert count_jobs(grid) == 6
    laffer = with_task(multirun_config(["experiment=laffer"]), ["experiment=laffer"])
    assert count_jobs(laffer) == 36  # 12 miners x 3 seeds from the experiment's sweeper params
    narrowed = with_task(multirun_config(["experiment=laffer"]), ["miner=random,topk", "seed=0"])
    assert count_jobs(narrowed) == 2  # the command line replaces the experiment's lists


def test_eta_from_the_median_trained_job() -> None:
    assert eta([], 5) == ""
    assert eta([10.0, 30.0, 20.0], 4) == ", ETA 1m20s"
    assert eta([10.0], 0) == ""
    assert (clock(45), clock(750), clock(3720)) == ("45s", "12m30s", "1h02m")


def test_failed_jobs_are_read_from_their_records(tmp_path: Path) -> None:
    (tmp_path / "0_a").mkdir()
    (tmp_path / "1_b").mkdir()
    (tmp_path / "1_b" / FAILED_FILE).write_text(json.dumps({"error": "x", "exit_code": 3}))
    assert failed_jobs(tmp_path) == {"1_b": {"error": "x", "exit_code": 3}}
