"""The traces figure: one panel per quantity, seed means with SE bands, units, legend outside."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zelo.analysis.traces import plot_traces, seed_means

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
        rows.append(row(job, 0, "fn/mined_rate", base))
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
