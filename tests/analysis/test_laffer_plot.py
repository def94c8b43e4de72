"""laffer.png tells the truth: verdict, error bars, controls, twin curve, hardness, no overlaps."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zelo.analysis.kinds import add_flags
from zelo.analysis.laffer import summarise
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
    assert "monotone summary of the real miners (isotonic fit)" in legend
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


def _summary_rows(points: dict[str, tuple[float, float, bool]]) -> pd.DataFrame:
    """Jobs of three seeds per label: label -> (intelligence, mean test nDCG@10, control)."""
    rows = []
    for label, (x, y, control) in points.items():
        for seed, d in enumerate((-0.001, 0.0, 0.001)):
            rows.append(
                {"job": f"{label}-{seed}", "label": label, "miner": label.split("(")[0],
                 "loss": "infonce", "seed": seed, "dataset": "nfcorpus", "model": "static",
                 "control": "scorer:oracle" if control else None, "intelligence": x,
                 "fn_rate": 0.1, "test_ndcg10": y + d, "test_ndcg10_before": 0.1669}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_summary_runs_through_real_miners_only() -> None:
    # adaptive-nfcorpus: top-k and PercPos share MiniLM's x; an isotonic fit through all three
    # pooled them into a flat line below both real miners. The best at each x is what it follows.
    df = _summary_rows(
        {"random": (0.011, 0.2673, False), "topk": (0.321, 0.2336, False),
         "percpos": (0.321, 0.2695, False), "oracle(x=1)": (1.0, 0.20, True)}
    )  # fmt: skip
    fits = fit_by_loss(df, n_boot=20)
    fig = plot_laffer(df, fits)
    summary = [ln for ln in fig.axes[0].lines if ln.get_marker() in ("None", "", None)]
    summary = [ln for ln in summary if ln.get_linestyle() == "-" and ln.get_color() == "C0"]
    assert len(summary) == 1
    assert list(summary[0].get_xdata()) == pytest.approx([0.011, 0.321])  # not the control at 1
    assert list(summary[0].get_ydata()) == pytest.approx([0.2673, 0.2695])


def test_a_far_zero_shot_is_an_arrow_not_a_line() -> None:
    # scifact: zero-shot 0.645 far below points within 0.72-0.74 squeezed the curve flat
    df = _summary_rows({"random": (0.0, 0.733, False), "topk": (0.5, 0.721, False)})
    fig = plot_laffer(df.assign(test_ndcg10_before=0.30), fit_by_loss(df, n_boot=20))
    ax = fig.axes[0]
    assert not [ln for ln in ax.lines if ln.get_color() == "grey"]  # no zero-shot line
    low, high = ax.get_ylim()
    assert low > 0.70 and high < 0.75  # the axis keeps to the points
    assert any("zero-shot 0.300 (below the axis)" in t.get_text() for t in ax.texts)
    near = plot_laffer(df.assign(test_ndcg10_before=0.725), fit_by_loss(df, n_boot=20))
    assert [ln for ln in near.axes[0].lines if ln.get_color() == "grey"]  # a line when near


def test_the_title_names_the_sweep_dataset_and_student() -> None:
    df = _summary_rows({"random": (0.0, 0.733, False), "topk": (0.5, 0.721, False)})
    fig = plot_laffer(df, fit_by_loss(df, n_boot=20), title=None)
    assert fig.get_suptitle().startswith("dataset nfcorpus · student static · loss infonce")
    from zelo.analysis.titles import figure_title

    assert figure_title(df, "laffer_dial-nfcorpus").startswith("sweep laffer_dial-nfcorpus ·")
    assert figure_title(df).endswith("seeds 0-2")


def test_point_numbers_are_unique_across_curves(tmp_path: Path, make_dial_sweep) -> None:
    fig, *_ = _figure(make_dial_sweep(tmp_path / "s", keeps=(1, 4, None), twins=False))
    entries = [t.get_text() for t in fig.legends[0].get_texts() if t.get_text()[:1].isdigit()]
    numbers = [int(t.split()[0]) for t in entries]
    assert numbers == list(range(1, len(numbers) + 1))
    assert sum("dial(x=0.5) · infonce keep=" in t for t in entries) == 3  # three points, 3 numbers
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "point-label"]
    assert len(texts) == len(set(texts)) == len(numbers)


def test_the_caption_names_only_the_markers_drawn() -> None:
    df = _summary_rows({"random": (0.0, 0.733, False), "topk": (0.5, 0.721, False)})
    note = error_bar_note(summarise(df).pipe(add_flags))
    assert "Filled circles: miners a user can run." in note
    assert not any(w in note.lower() for w in ("hollow", "star", "dashed", "twin"))
