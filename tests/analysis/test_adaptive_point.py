"""An adaptive miner's jobs: a star per loss on laffer.png, left out of the curve fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zelo.analysis.plots import plot_laffer
from zelo.analysis.report import fit_by_loss, write_outputs
from zelo.analysis.results import collect_results, is_adaptive

FIXED_JOBS = 6  # finished jobs of the fake sweep


def _metrics(seed: int) -> dict:
    return {
        "run/miner": "adaptive",
        "run/adaptive": True,
        "run/seed": seed,
        "run/loss": "infonce",
        "miner/ndcg@10": 0.3 + 0.01 * seed,
        "mining/fn_rate": 0.2,
        "mining/hardness": 0.25,
        "test/ndcg@10": 0.9,
        "test/ndcg@10_before": 0.35,
    }


@pytest.fixture
def sweep(fake_sweep: Path, make_job) -> Path:
    """The fake sweep plus two adaptive jobs, far above the fixed miners' curve."""
    for seed in (0, 1):
        job = make_job(fake_sweep, f"8_miner=adaptive,seed={seed}", ["miner=adaptive"], None)
        (job / "metrics.json").write_text(json.dumps(_metrics(seed)))
    return fake_sweep


def test_adaptive_jobs_are_rows_but_not_fitted(sweep: Path) -> None:
    df = collect_results(sweep)
    assert is_adaptive(df).sum() == 2
    fits = fit_by_loss(df, n_boot=50)
    assert fits["infonce"]["n_points"] == FIXED_JOBS  # the adaptive jobs are left out
    assert fits["infonce"]["peak_label"] != "adaptive"


def test_star_marks_the_adaptive_point(sweep: Path) -> None:
    df = collect_results(sweep)
    fig = plot_laffer(df, fit_by_loss(df, n_boot=50))
    ax_q, ax_fn = fig.axes[:2]
    for ax, y in ((ax_q, 0.9), (ax_fn, 0.2)):
        stars = [line for line in ax.lines if line.get_marker() == "*"]
        assert len(stars) == 1
        assert stars[0].get_xdata()[0] == pytest.approx(0.305)
        assert stars[0].get_ydata()[0] == pytest.approx(y)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.endswith("  adaptive") for t in legend)  # a miner a user can run: no tag
    assert any("oracle(x=0.5)  [CONTROL]" in t for t in legend)  # the oracle reads judgments


def test_report_summarises_the_adaptive_point(sweep: Path) -> None:
    report = write_outputs(sweep, n_boot=50)
    labels = [row["label"] for row in report["summary"]]
    assert "adaptive" in labels
    assert (sweep / "laffer.png").stat().st_size > 0
