"""The traces figure: one panel per quantity, seed means with SE bands, units, legend outside."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zelo.analysis.results import collect_traces
from zelo.analysis.traces import QUANTITIES, TRACE_PREFIXES, plot_traces, seed_means
from zelo.eval.false_negatives import mining_stats
from zelo.keys import DUP_OF_POSITIVE_RATE
from zelo.types import MinedNegatives

RESULTS = pd.DataFrame(
    {"job": ["a0", "a1", "b0", "b1"], "label": ["topk", "topk", "random", "random"]}
)


def row(job: str, epoch: int, metric: str, value: float) -> dict:
    """A log row at the epoch's end (10 steps an epoch); the monitor's rows carry no epoch."""
    logged_epoch = None if metric.startswith("fn/") else epoch
    return {"job": job, "step": epoch * 10, "epoch": logged_epoch, "metric": metric, "value": value}


@pytest.fixture
def traces() -> pd.DataFrame:
    rows = []
    for job, base in (("a0", 0.2), ("a1", 0.4), ("b0", 0.1), ("b1", 0.1)):
        for epoch in (0, 1):
            rows.append(row(job, epoch, "fn/inbatch_rate", base + epoch))
        rows.append(row(job, 0, "mining/fn_rate", base))
        rows.append(row(job, 0, "fn/teacher_margin_p50", 400.0))  # Elo: not on a shared axis
    rows.append(row("a0", 1, "fn/inbatch_rate", 9.0))  # a second log at one step: the last counts
    rows.append(row("zz", 0, "fn/inbatch_rate", 5.0))  # a job without a result row: ignored
    return pd.DataFrame(rows)


def test_seed_means_by_hand(traces: pd.DataFrame) -> None:
    stats = seed_means(traces, dict(zip(RESULTS.job, RESULTS.label, strict=True)))
    inbatch = stats[stats.metric == "fn/inbatch_rate"].set_index(["label", "step"])
    assert inbatch.loc[("topk", 0), "mean"] == pytest.approx(0.3)
    assert inbatch.loc[("topk", 0), "se"] == pytest.approx(
        np.std([0.2, 0.4], ddof=1) / math.sqrt(2)
    )
    assert inbatch.loc[("topk", 10), "mean"] == pytest.approx((9.0 + 1.4) / 2)
    assert inbatch.loc[("random", 10), "se"] == pytest.approx(0.0)
    assert set(inbatch["n"]) == {2}


def test_one_panel_per_quantity_with_units_and_an_outside_legend(traces: pd.DataFrame) -> None:
    fig = plot_traces(traces, RESULTS)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in visible]
    assert titles == ["False negatives among mined (exact)", "False negatives among in-batch"]
    assert [ax.get_ylabel() for ax in visible] == [
        "share of mined negatives", "share of in-batch negatives",
    ]  # fmt: skip
    assert all(ax.get_legend() is None and ax.get_xlabel() == "training step" for ax in visible)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["random", "topk"]
    line = visible[1].get_lines()
    means = sorted(tuple(np.round(ln.get_ydata(), 6)) for ln in line)
    assert means == [(0.1, 1.1), (0.3, 5.2)]  # one line per miner: the seed means
    assert len(visible[1].collections) == 2  # and its SE band


def test_no_monitored_quantity_says_so() -> None:
    fig = plot_traces(pd.DataFrame(columns=["job", "step", "epoch", "metric", "value"]), RESULTS)
    assert "no monitored quantity" in fig.axes[0].texts[0].get_text()


REAL_LOG = Path(__file__).parent / "data" / "tiny_run_metrics.csv"
"""csv/metrics.csv of a real run: ``train.py debug=tiny miner=topk trainer.max_epochs=2``."""


def test_a_real_runs_log_fills_the_exact_fn_panel(tmp_path: Path) -> None:
    job = tmp_path / "sweep" / "0_miner=topk"
    (job / "csv").mkdir(parents=True)
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text("- miner=topk\n")
    shutil.copy(REAL_LOG, job / "csv" / "metrics.csv")
    traces = collect_traces(tmp_path / "sweep", TRACE_PREFIXES)
    fig = plot_traces(traces, pd.DataFrame({"job": ["0_miner=topk"], "label": ["topk"]}))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert "False negatives among mined (exact)" in titles
    assert "Miner intelligence" in titles and "Student on dev" in titles
    header = set(pd.read_csv(REAL_LOG, nrows=0).columns)
    # every panel reads a key some writer writes: the real log's, or the duplicate rate that
    # mining_stats writes where the collection has duplicate documents (NFCorpus)
    missing = {q.key for q in QUANTITIES} - header
    assert missing == {DUP_OF_POSITIVE_RATE}
    stats = mining_stats(
        MinedNegatives(torch.tensor([[1]]), torch.zeros(1, 1), torch.zeros(1, 1),
                       torch.tensor([[0, 1]]), torch.zeros(1, 2)),
        None, [[0]], duplicates=[[0, 1]],
    )  # fmt: skip
    assert stats[DUP_OF_POSITIVE_RATE] == 1.0


@pytest.mark.slow
def test_the_stored_log_is_what_a_tiny_run_writes_today(make_cfg, tmp_path: Path) -> None:
    from zelo.pipeline import train

    train(make_cfg("miner=topk", "trainer.max_epochs=2"))
    today = set(pd.read_csv(tmp_path / "csv" / "metrics.csv", nrows=0).columns)
    assert today == set(pd.read_csv(REAL_LOG, nrows=0).columns)
