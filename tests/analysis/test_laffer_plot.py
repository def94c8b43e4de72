"""laffer.png tells the truth: verdict, error bars, controls, twin curve, hardness, no overlaps."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zelo.analysis.laffer_plot import draws_quadratic, error_bar_note, plot_laffer
from zelo.analysis.report import fit_by_loss
from zelo.analysis.results import collect_results


def _figure(sweep: Path):
    df = collect_results(sweep)
    fits, twins = fit_by_loss(df, n_boot=50), fit_by_loss(df, n_boot=50, twin=True)
    return plot_laffer(df, fits, twins), fits, twins


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_interior_maximum_draws_the_quadratic_and_the_twin_dashed(dial_sweep: Path) -> None:
    fig, fits, twins = _figure(dial_sweep)
    assert fits["infonce"]["peak_beats_both_ends"] and draws_quadratic(fits["infonce"])
    ax_q, ax_fn, ax_hard = fig.axes[:3]
    assert "hardness" in ax_hard.get_xlabel()
    curve = [line for line in ax_q.lines if len(line.get_xdata()) == 200]
    assert len(curve) == 1 and curve[0].get_color() == "C0"
    dashed = [line for line in ax_q.lines if line.get_linestyle() == "--"]
    assert [line.get_color() for line in dashed if line.get_color() != "grey"] == ["C0"]
    assert ax_q.patches and any(line.get_linestyle() == ":" for line in ax_q.lines)  # the CI
    text = _texts(fig)
    assert fits["infonce"]["statement"] in text.replace("\n", " ")
    assert "mean ± SE over seeds (n = 3)" in text
    assert twins["infonce"]["statement"].split(":")[0] in text


def test_controls_and_the_upper_bound_are_labelled(dial_sweep: Path) -> None:
    fig, *_ = _figure(dial_sweep)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.endswith("adaptive_oracle  [UPPER BOUND]") for t in legend)
    assert any(t.endswith("dial(x=0.5)  [CONTROL]") for t in legend)
    assert any(t.endswith("topk(drop_judged=true)  [CONTROL]") for t in legend)
    assert any(t.endswith("  random") for t in legend) and any(t.endswith("  topk") for t in legend)
    ax_q = fig.axes[0]
    hollow = {(line.get_marker(), line.get_markerfacecolor()) for line in ax_q.lines}
    assert ("*", "none") in hollow and ("o", "none") in hollow and ("s", "none") in hollow
    filled = [line for line in ax_q.lines if line.get_marker() == "o"]
    assert any(line.get_markerfacecolor() != "none" for line in filled)  # random, topk


def test_point_labels_do_not_overlap(tmp_path: Path, make_dial_sweep) -> None:
    fig, *_ = _figure(make_dial_sweep(tmp_path / "s", keeps=(1, 4, None)))
    fig.canvas.draw()
    for ax in fig.axes[:3]:
        boxes = [t.get_window_extent() for t in ax.texts if t.get_gid() == "point-label"]
        assert len(boxes) >= 16
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), (ax.get_title(), a, b)


def test_an_end_optimum_draws_no_marker_and_no_quadratic(tmp_path: Path, make_dial_sweep) -> None:
    # every positive labelled: no false negatives, the raw curve rises to the right end
    fig, fits, _ = _figure(make_dial_sweep(tmp_path / "s", keeps=(None,), twins=False))
    assert not fits["infonce"]["interior"] and not draws_quadratic(fits["infonce"])
    ax_q = fig.axes[0]
    assert not [line for line in ax_q.lines if len(line.get_xdata()) == 200]
    assert not ax_q.patches and not [line for line in ax_q.lines if line.get_linestyle() == ":"]
    plain = [line for line in ax_q.lines if line.get_marker() in ("None", "", None)]
    summary = [line for line in plain if line.get_color() == "C0"]
    assert len(summary) == 1
    assert (np.diff(summary[0].get_ydata()) >= 0).all()  # monotone, rising
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "monotone summary (isotonic fit)" in legend
    assert not any("quadratic" in t for t in legend)
    assert "No interior maximum" in _texts(fig)


def test_no_hardness_panel_without_hardness(fake_sweep: Path) -> None:
    fig, *_ = _figure(fake_sweep)
    titles = [ax.get_title() for ax in fig.axes]
    assert not any("hardness" in t for t in titles) and "Student quality" in titles


@pytest.mark.parametrize(
    ("fit", "drawn"),
    [
        (
            {
                "fitted": True,
                "degree": 2,
                "peak_beats_both_ends": True,
                "interior": True,
                "coefficients": [0.3, 0.4, -0.5],
            },
            True,
        ),
        (
            {
                "fitted": True,
                "degree": 2,
                "peak_beats_both_ends": True,
                "interior": True,
                "coefficients": [0.3, -0.4, 0.5],
            },
            False,
        ),  # a U never
        (
            {
                "fitted": True,
                "degree": 2,
                "peak_beats_both_ends": False,
                "interior": True,
                "coefficients": [0.3, 0.4, -0.5],
            },
            False,
        ),  # not significant
        (
            {
                "fitted": True,
                "degree": 1,
                "peak_beats_both_ends": False,
                "interior": False,
                "coefficients": [0.3, 0.4],
            },
            False,
        ),
        (None, False),
    ],
)
def test_draws_quadratic(fit, drawn) -> None:
    assert draws_quadratic(fit) is drawn


def test_error_bar_note_gives_n() -> None:
    assert "(n = 3)" in error_bar_note(pd.DataFrame({"n_seeds": [3, 3]}))
    note = error_bar_note(pd.DataFrame({"n_seeds": [1, 3]}))
    assert "(n = 1-3)" in note and "single seed gives no error bar" in note
