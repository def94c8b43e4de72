"""``collect_results`` on a hand-written sweep: rows, labels, pending and corrupt jobs, traces."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from zelo.analysis.results import (
    FIXED_COLUMNS,
    SweepStatus,
    collect_results,
    collect_traces,
    latest_sweep,
    make_labels,
    read_overrides,
)

PENDING = "6_miner=topk,seed=2"
CORRUPT = "7_miner=topk,seed=3"
FIRST = "0_miner=random,seed=0"
TOPK = ("topk", 0, 0.8, 0.6, 0.4)


def test_one_row_per_finished_job(fake_sweep: Path, caplog) -> None:
    status = SweepStatus()
    with caplog.at_level(logging.INFO):
        df = collect_results(fake_sweep, status)
    assert len(df) == 6
    assert status.pending == [PENDING]
    assert status.corrupt == [CORRUPT]
    assert PENDING in caplog.text and CORRUPT in caplog.text
    assert list(df.columns[: len(FIXED_COLUMNS)]) == FIXED_COLUMNS
    assert "miner.scorer.intelligence" in df.columns
    assert not [c for c in df.columns if c.startswith(("paths.", "hydra."))]


def test_columns_map_metrics(fake_sweep: Path) -> None:
    df = collect_results(fake_sweep).set_index("job")
    row = df.loc["2_miner=oracle,miner.scorer.intelligence=0.5,seed=0"]
    assert row["label"] == "oracle(x=0.5)"
    assert (row["miner"], row["loss"], row["seed"]) == ("oracle", "infonce", 0)
    assert (row["intelligence"], row["fn_rate"], row["test_ndcg10"]) == (0.50, 0.30, 0.450)
    assert (row["test_ndcg10_before"], row["test_recall100"], row["wall_s"]) == (0.35, 0.9, 10.0)
    assert row["test_mrr10"] == 0.55 and row["val_ndcg10"] == 0.44


def test_sorted_and_reproducible(fake_sweep: Path) -> None:
    df = collect_results(fake_sweep)
    assert list(df["label"]) == ["oracle(x=0.5)"] * 2 + ["random"] * 2 + ["topk"] * 2
    assert list(df["seed"]) == [0, 1, 0, 1, 0, 1]
    first = df.to_csv(index=False)
    os.utime(fake_sweep / FIRST / "metrics.json")  # discovery order must not matter
    assert collect_results(fake_sweep).to_csv(index=False) == first
    assert str(fake_sweep.parent) not in first and "/abs/cache" not in first


def test_varying_overrides_enter_labels(tmp_path: Path, make_job) -> None:
    for i, negatives in enumerate((3, 7)):
        overrides = ["miner=topk", f"data.num_negatives={negatives}", "seed=0", "+tags=[a]"]
        make_job(tmp_path, f"{i}_job", overrides, TOPK)
    df = collect_results(tmp_path)
    assert sorted(df["label"]) == ["topk(data.num_negatives=3)", "topk(data.num_negatives=7)"]
    assert "tags" in df.columns  # a constant override is a column, not part of the label


def test_a_configured_teacher_names_its_own_loss_curve(tmp_path: Path, make_job) -> None:
    import json

    for i, teacher in enumerate(("miner", "oracle")):
        overrides = ["miner=topk", "loss=infonce_masked", "seed=0"]
        overrides += [f"teacher={teacher}"] if teacher != "miner" else []
        metrics = {
            "run/miner": "topk",
            "run/seed": 0,
            "run/loss": "infonce_masked",
            "run/teacher": teacher,
            "miner/ndcg@10": 0.8,
            "test/ndcg@10": 0.4,
        }
        make_job(tmp_path, f"{i}_job", overrides, json.dumps(metrics))
    df = collect_results(tmp_path)
    assert sorted(df["loss"]) == ["infonce_masked", "infonce_masked[oracle]"]
    assert list(df["label"]) == ["topk", "topk"]  # the teacher is in the loss, not the label


def test_labels_keep_every_miner_setting() -> None:
    df = pd.DataFrame(
        {
            "miner": ["oracle", "topk"],
            "miner.scorer.intelligence": ["1.0", None],
            "miner/scorer": [None, "bm25"],
            "debug": ["tiny", "tiny"],
        }
    )
    assert list(make_labels(df)) == ["oracle(x=1.0)", "topk(scorer=bm25)"]


def test_read_overrides_skips_paths_hydra_and_seed(tmp_path: Path, make_job) -> None:
    job = make_job(tmp_path, "0_job", ["miner=topk", "+loss=infonce", "seed=3"], None)
    assert read_overrides(job) == {"miner": "topk", "loss": "infonce"}


def test_unfinished_sweep_gives_empty_table(tmp_path: Path, make_job) -> None:
    make_job(tmp_path, "0_job", ["miner=topk", "seed=0"], None)
    status = SweepStatus()
    df = collect_results(tmp_path, status)
    assert df.empty and list(df.columns) == FIXED_COLUMNS
    assert status.pending == ["0_job"]


def test_traces_keep_fn_and_mining_columns(fake_sweep: Path) -> None:
    traces = collect_traces(fake_sweep)
    assert list(traces.columns) == ["job", "step", "epoch", "metric", "value"]
    assert set(traces["metric"]) == {"fn/rate", "mining/fn_rate"}
    fn = traces[traces["metric"] == "fn/rate"]
    assert list(fn["step"]) == [0, 4] and list(fn["value"]) == [0.05, 0.04]
    assert set(traces["job"]) == {FIRST}


def test_latest_sweep_is_the_newest_folder(tmp_path: Path, make_job) -> None:
    old, new = tmp_path / "multiruns" / "a", tmp_path / "multiruns" / "b"
    for i, root in enumerate((old, new)):
        make_job(root, "0_job", ["miner=topk"], TOPK)
        (root / "multirun.yaml").write_text("{}\n")
        os.utime(root, (1_000_000 + i, 1_000_000 + i))
    assert latest_sweep(tmp_path) == new
    assert latest_sweep(tmp_path / "multiruns" / "a" / "0_job" / ".hydra") is None


def test_completeness_and_hardness_columns(tmp_path: Path, make_job) -> None:
    import json
    import math

    base = {"run/miner": "dial", "run/seed": 0, "test/ndcg@10": 0.4, "mining/tn_hardness": -0.2}
    cases = [  # (metrics.json's run/keep_positives, the override) -> keep_positives column
        ({"run/keep_positives": 4}, "annotation.keep_positives=4"),
        ({"run/keep_positives": None}, "annotation.keep_positives=null"),
        ({}, "annotation.keep_positives=null"),  # older runs: the override says
        ({}, None),
    ]
    for i, (extra, override) in enumerate(cases):
        overrides = ["miner=dial", "seed=0"] + ([override] if override else [])
        make_job(tmp_path, f"{i}_job", overrides, json.dumps({**base, **extra}))
    df = collect_results(tmp_path).sort_values("job")
    keep = list(df["keep_positives"])
    assert keep[:3] == [4.0, math.inf, math.inf] and math.isnan(keep[3])
    assert list(df["tn_hardness"]) == [-0.2] * 4
    assert set(df["label"]) == {"dial"}  # completeness is a column, never part of the label


def test_drop_judged_false_stays_out_of_labels() -> None:
    df = pd.DataFrame(
        {
            "miner": ["dial", "dial"],
            "miner.scorer.intelligence": ["0.5", "0.5"],
            "miner.drop_judged": ["False", "True"],
        }
    )
    assert list(make_labels(df)) == ["dial(x=0.5)", "dial(x=0.5,drop_judged=True)"]


def test_a_refused_relaunch_makes_the_job_failed_not_a_mislabelled_row(
    tmp_path: Path, make_job
) -> None:
    """A sweep re-launched with another config over a finished folder: Hydra rewrites the
    folder's overrides, zelo refuses the job (failed.json) and keeps the old metrics.json."""
    make_job(tmp_path, "0_job", ["miner=topk", "seed=0"], TOPK)
    job = make_job(tmp_path, "1_job", ["miner=topk", "model.lr=0.05", "seed=1"], TOPK)
    error = "holds the finished run of another config (model.lr: 0.001 -> 0.05)"
    (job / "failed.json").write_text(json.dumps({"error": error, "exit_code": 2}))
    status = SweepStatus()
    df = collect_results(tmp_path, status)
    assert list(df["job"]) == ["0_job"]  # not a row labelled lr=0.05 with the old run's numbers
    assert status.failed == {"1_job": error}
    (job / "failed.json").unlink()  # the folder's own config launched again clears it
    assert list(collect_results(tmp_path)["job"]) == ["0_job", "1_job"]
