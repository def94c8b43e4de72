"""The best trial of a search is chosen on dev; its test metric is reported beside it."""

from __future__ import annotations

import json
from pathlib import Path

from zelo.analysis.best_trial import best_trial


def test_best_trial_is_chosen_on_dev_and_reports_test(tmp_path: Path, make_job) -> None:
    for i, (dev, test) in enumerate([(0.30, 0.50), (0.40, 0.20), (0.35, 0.90)]):
        job = make_job(
            tmp_path, f"{i}_miner.percentage=0.{i + 5}", [f"miner.percentage=0.{i + 5}"], None
        )
        (job / "metrics.json").write_text(json.dumps({"val/ndcg@10": dev, "test/ndcg@10": test}))
    make_job(tmp_path, "3_miner.percentage=0.9", ["miner.percentage=0.9"], None)  # unfinished
    best = best_trial(tmp_path)
    assert best["job"] == "1_miner.percentage=0.6" and best["overrides"] == {
        "miner.percentage": "0.6"
    }
    assert (best["value"], best["test_value"], best["n_trials"]) == (0.40, 0.20, 3)
    assert best_trial(tmp_path, maximize=False)["test_value"] == 0.50
