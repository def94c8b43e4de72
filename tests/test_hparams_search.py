"""``hparams_search=hardness``: Optuna tunes a miner's hardness on dev nDCG@10; the best trial's
test nDCG@10 is reported once, at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.utils import instantiate

from zelo.analysis.best_trial import BEST_FILE

REPO = Path(__file__).resolve().parents[1]


def test_the_search_optimises_dev_and_sets_the_miner(make_cfg) -> None:
    cfg = make_cfg("hparams_search=hardness")
    assert cfg.optimized_metric == "val/ndcg@10"
    assert "perc_pos" in cfg.miner.rules
    assert dict(cfg.hydra.sweeper.params) == {
        "miner.rules.perc_pos.percentage": "interval(0.5, 1.0)"
    }
    assert cfg.hydra.sweeper.direction == "maximize"
    adaptive = make_cfg("hparams_search=hardness", "hparams_search/space=adaptive")
    assert set(adaptive.hydra.sweeper.params) == {"miner.start", "miner.tolerance"}
    assert instantiate(adaptive.miner).reads_judgments is False  # a knob a user can tune
    shifted = make_cfg("hparams_search=hardness", "hparams_search/space=shifted")
    assert "shift" in shifted.miner.rules
    assert dict(shifted.hydra.sweeper.params) == {"miner.rules.shift.shift": "int(interval(0, 50))"}


@pytest.mark.slow
def test_three_trials_on_the_tiny_preset(tmp_path: Path, cache_dir: Path) -> None:
    sweep = tmp_path / "search"
    cmd = [
        sys.executable,
        "train.py",
        "hparams_search=hardness",
        "debug=tiny",
        "hydra.sweeper.n_trials=3",
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={cache_dir}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 3
    metrics = [json.loads((j / "metrics.json").read_text()) for j in jobs]
    key = "miner.rules.perc_pos.percentage="
    overrides = [yaml.safe_load((j / ".hydra" / "overrides.yaml").read_text()) for j in jobs]
    percentages = {float(o[len(key) :]) for ov in overrides for o in ov if o.startswith(key)}
    assert len(percentages) == 3 and all(0.5 <= p <= 1.0 for p in percentages)
    best = json.loads((sweep / BEST_FILE).read_text())
    top = max(metrics, key=lambda m: m["val/ndcg@10"])
    assert best["value"] == top["val/ndcg@10"] and best["test_value"] == top["test/ndcg@10"]
    optuna = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert optuna["best_value"] == pytest.approx(best["value"])
    out = proc.stdout + proc.stderr
    assert out.count("its test/ndcg@10") == 1  # the best trial's, once
    assert "test/ndcg@10 0." not in out  # no trial prints its own test score


def test_a_trial_reports_its_dev_score_not_its_test_score(make_cfg) -> None:
    from zelo.pipeline import result_line

    metrics = {"val/ndcg@10": 0.41, "test/ndcg@10": 0.43, "test/ndcg@10_before": 0.35}
    trial = result_line(make_cfg("hparams_search=hardness"), metrics)
    assert trial.startswith("val/ndcg@10 0.4100") and "0.43" not in trial
    assert result_line(make_cfg(), metrics) == "test/ndcg@10 0.4300 (zero-shot 0.3500)"
