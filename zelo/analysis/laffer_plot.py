"""laffer.png: student quality against miner intelligence, FN rate and true-negative hardness.

What the figure promises: its title names the sweep, the dataset, the student and the seeds;
every point is the mean ± SE over seeds (n written under the panels); hollow markers are CONTROLS
(they read the full judgments: the oracle and the dial, simulated judges, the FN-free twin), a
hollow star is an UPPER BOUND (``adaptive_oracle``); the FN-free twins are joined by a dashed line
in their curve's colour. A quadratic is drawn only where the verdict finds an interior maximum,
the only case its bend means something. Otherwise a summary line is drawn: an isotonic
(monotone) fit through the real miners only (the best one at each intelligence), never through a
control; a curve made only of controls (the dial) has its means joined in order of intelligence,
which is no fit. The optimum and its CI are drawn only when it is interior and the CI has a
width. Every point carries a number, unique across curves, placed so that numbers do not overlap;
the legend beside the panels names them. A zero-shot level far outside the points' range is an
arrow at the edge of the axis, not a line that squeezes the curve. The caption under the panels
holds the verdicts and describes only the markers that are drawn.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from zelo.analysis.kinds import curve_names, curve_point_numbers, point_keys, point_tag
from zelo.analysis.laffer import summarise
from zelo.analysis.monotone import monotone_summary
from zelo.analysis.placement import label_points
from zelo.analysis.results import is_adaptive
from zelo.analysis.titles import figure_title, point_repeats

# (y metric, x metric, x label, title) of each panel; the hardness panel only when measured
PANELS = (
    ("test_ndcg10", "intelligence", "miner intelligence (miner nDCG@10)", "Student quality"),
    ("fn_rate", "intelligence", "miner intelligence (miner nDCG@10)", "False negatives mined"),
    (
        "test_ndcg10",
        "tn_hardness",
        "true-negative hardness (reference score - positive's; higher = harder)",
        "Quality against true-negative hardness",
    ),
)
Y_LABELS = {"test_ndcg10": "student test nDCG@10", "fn_rate": "false-negative rate of negatives"}
# marker of each kind of point: filled for miners a user can run, hollow for controls
STYLES: dict[str, dict[str, Any]] = {
    "real": {"fmt": "o", "markersize": 6},
    "control": {"fmt": "o", "markersize": 6, "markerfacecolor": "none"},
    "twin": {"fmt": "s", "markersize": 6, "markerfacecolor": "none"},
    "adaptive": {"fmt": "*", "markersize": 14, "markeredgecolor": "black"},
    "upper_bound": {"fmt": "*", "markersize": 14, "markerfacecolor": "none"},
}


def point_kind(row: pd.Series) -> str:
    """``upper_bound``, ``adaptive``, ``twin``, ``control`` or ``real`` for a summary row."""
    if row.get("upper_bound"):
        return "upper_bound"
    if row.get("adaptive") is True or row.get("adaptive") == 1.0:
        return "adaptive"
    if row.get("twin"):
        return "twin"
    return "control" if row.get("control_flag") else "real"


def draws_quadratic(fit: dict[str, Any] | None) -> bool:
    """Is the fitted quadratic worth drawing: an interior maximum the verdict confirms, with the
    curve bending down (never a U)?"""
    if not fit or not fit.get("fitted") or fit.get("degree") != 2:
        return False
    return bool(fit["peak_beats_both_ends"] and fit["interior"] and fit["coefficients"][2] < 0)


def error_bar_note(summary: pd.DataFrame) -> str:
    """What the error bars and the markers drawn are: ``mean ± SE over seeds (n = 3)`` (or
    ``n = 2-3``), then only the kinds of marker the figure holds."""
    n = summary["n_seeds"].astype(int)
    count = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
    single = " A single seed gives no error bar." if n.min() < 2 else ""
    kinds = set(summary.apply(point_kind, axis=1)) if len(summary) else set()
    shown = [text for kind, text in MARKER_TEXT if kind in kinds]
    markers = f" {'; '.join(shown)}." if shown else ""
    markers = markers[:2].upper() + markers[2:]
    return (
        f"Points: mean ± SE over seeds (n = {count}); vertical bars SE of the y value, horizontal "
        f"bars SE of the x value.{single}{markers}"
    )


# what each kind of marker is, in the caption's words (only the kinds drawn are named)
MARKER_TEXT = (
    ("real", "filled circles: miners a user can run"),
    ("control", "hollow circles: CONTROL (reads the full judgments)"),
    ("twin", "hollow squares joined by a dashed line: FN-free twin (CONTROL)"),
    ("adaptive", "filled star: the practical adaptive miner"),
    ("upper_bound", "hollow star: UPPER BOUND (reads the training judgments)"),
)


def plot_laffer(
    df: pd.DataFrame,
    fits: dict[str, dict[str, Any]] | None = None,
    twin_fits: dict[str, dict[str, Any]] | None = None,
    title: str | None = None,
) -> Figure:
    """The Laffer figure of a sweep.

    Args:
        df: the results table (one row per job).
        fits: :func:`zelo.analysis.report.fit_by_loss` of the raw points, keyed by curve.
        twin_fits: the same of the FN-free twins.
        title: the figure's title; default :func:`zelo.analysis.titles.figure_title` of ``df``
            (dataset, student, seeds; the sweep's name when the caller gives it).

    Returns:
        The figure: panels quality and FN rate against intelligence (and quality against
        true-negative hardness when measured), a numbered legend outside, verdicts below.
    """
    if df.empty:
        fig = Figure(figsize=(8, 4), layout="constrained")
        FigureCanvasAgg(fig)
        fig.add_subplot().text(0.5, 0.5, "no finished job yet", ha="center", va="center")
        return fig
    summary = summarise(df)
    summary["curve"] = curve_names(summary)
    repeats = point_repeats(df)
    summary["same_as"] = [repeats.get(k) for k in point_keys(summary)]
    numbers = curve_point_numbers(summary)
    panels = [p for p in PANELS if _measured(summary, p[1])]
    lines = _verdict_lines(summary, fits or {}, twin_fits or {})
    fig, axes = _layout(len(panels), lines, len(numbers) + 8)
    # wrapped to the panels' width, left-aligned: clear of the legend column on the right
    head = textwrap.wrap(title or figure_title(df), int(5.0 * len(panels) * 12))
    fig.suptitle("\n".join(head), fontsize=9, x=0.01, ha="left")
    colours = {c: f"C{i}" for i, c in enumerate(dict.fromkeys(summary["curve"]))}
    drawn: set[str] = set()
    for curve, part in summary.groupby("curve", sort=False):
        fixed = part[~is_adaptive(part)]
        for ax, (y, x, *_) in zip(axes, panels, strict=True):
            _points(ax, part, x, y, colours[curve])
        drawn |= _curve(axes[0], fixed[~fixed["twin"]], (fits or {}).get(curve), colours[curve])
        twins = fixed[fixed["twin"]]
        drawn |= _curve(axes[0], twins, (twin_fits or {}).get(curve), colours[curve], "--")
    _decorate(fig, axes, panels, df, summary, numbers, colours, drawn)
    groups = []
    for ax, (y, x, *_) in zip(axes, panels, strict=True):
        shown = summary.dropna(subset=[f"{x}_mean", f"{y}_mean"])
        texts = [str(numbers[k]) for k in point_keys(shown)]
        groups.append((ax, list(shown[f"{x}_mean"]), list(shown[f"{y}_mean"]), texts))
    label_points(fig, groups)
    return fig


def _measured(summary: pd.DataFrame, x: str) -> bool:
    column = f"{x}_mean"
    return column in summary and bool(np.isfinite(summary[column].to_numpy(float)).any())


def _layout(n_panels: int, lines: list[str], n_legend: int) -> tuple[Figure, list[Any]]:
    width = 5.0 * n_panels + 3.5  # the panels, then the legend
    # about 14 characters of 8-point text per inch, wrapped to the panels' width
    wrapped = [w for line in lines for w in textwrap.wrap(line, int(5.0 * n_panels * 14))]
    height = max(5.2, 0.16 * n_legend + 1.0) + 0.17 * len(wrapped)
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    text_share = 0.17 * len(wrapped) / height
    grid = fig.add_gridspec(2, n_panels, height_ratios=[1 - text_share, text_share])
    axes = [fig.add_subplot(grid[0, i]) for i in range(n_panels)]
    note = fig.add_subplot(grid[1, :])
    note.axis("off")
    text = note.text(
        0, 1, "\n".join(wrapped), va="top", ha="left", fontsize=8, transform=note.transAxes
    )
    text.set_in_layout(False)  # sized above: it must not squeeze the panels
    return fig, axes


def _verdict_lines(summary: pd.DataFrame, fits: dict, twin_fits: dict) -> list[str]:
    lines = [f"{curve}: {fit['statement']}" for curve, fit in fits.items() if "statement" in fit]
    lines += [
        f"{curve}, FN-free twin (CONTROL): {fit['statement']}"
        for curve, fit in twin_fits.items()
        if "statement" in fit
    ]
    return [*lines, error_bar_note(summary)]


def _points(ax: Any, part: pd.DataFrame, x: str, y: str, colour: str) -> None:
    part = part.dropna(subset=[f"{x}_mean", f"{y}_mean"])
    kinds = part.apply(point_kind, axis=1) if len(part) else pd.Series(dtype=str)
    for kind, rows in part.groupby(kinds, sort=True):
        ax.errorbar(
            rows[f"{x}_mean"],
            rows[f"{y}_mean"],
            yerr=rows[f"{y}_se"],
            xerr=rows[f"{x}_se"],
            **STYLES[kind],
            color=colour,
            capsize=3,
        )


def _curve(ax: Any, part: pd.DataFrame, fit: dict | None, colour: str, ls: str = "-") -> set[str]:
    """One curve's line: the quadratic (a confirmed interior maximum only), else the isotonic
    summary of its real miners, else (a curve of controls only) its means joined."""
    part = part.dropna(subset=["intelligence_mean", "test_ndcg10_mean"])
    if len(part) < 2:
        return set()
    if draws_quadratic(fit):
        xs = np.linspace(*fit["x_range"], 200)
        ax.plot(xs, np.polynomial.polynomial.polyval(xs, fit["coefficients"]), color=colour, ls=ls)
        ax.axvline(fit["optimum"], color=colour, lw=1, ls=":")
        lo, hi = fit["ci"]
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            ax.axvspan(lo, hi, color=colour, alpha=0.12)
        return {"quadratic"}
    real = part[~part["control_flag"].astype(bool)]
    if len(real):
        frontier = best_at_each_intelligence(real)
        if len(frontier) < 2:
            return set()
        columns = ("intelligence_mean", "test_ndcg10_mean", "n_seeds")
        xs, fitted, _ = monotone_summary(*(frontier[c].to_numpy(float) for c in columns))
        ax.plot(xs, fitted, color=colour, ls=ls, lw=1.5)
        return {"monotone"}
    distinct = part[part["same_as"].isna()] if "same_as" in part else part
    distinct = distinct.sort_values("intelligence_mean", kind="mergesort")
    ax.plot(distinct["intelligence_mean"], distinct["test_ndcg10_mean"], color=colour, ls=ls, lw=1)
    return {"joined"}


def best_at_each_intelligence(points: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The best point (highest mean test nDCG@10) at each intelligence (rounded to ``digits``):
    miners sharing a scorer (top-k and PercPos on MiniLM) sit at one x, and a monotone summary
    through their average would pass below both."""
    place = points["intelligence_mean"].round(digits)
    best = points.loc[points.groupby(place)["test_ndcg10_mean"].idxmax()]
    return best.sort_values("intelligence_mean", kind="mergesort")


def zero_shot_mark(ax: Any, value: float, lo: float, hi: float, reach: float = 1.0) -> str:
    """Mark the zero-shot level on a quality axis whose points span ``[lo, hi]``.

    Within ``reach`` spans of the points it is a dashed grey line; farther out a line would
    squeeze the points into a sliver, so the axis keeps to the points and an arrow at its edge
    says where zero-shot lies.

    Returns:
        ``"line"`` or ``"arrow"``.
    """
    span = max(hi - lo, 1e-3)
    if lo - reach * span <= value <= hi + reach * span:
        ax.axhline(value, ls="--", color="grey", lw=1)
        return "line"
    pad = 0.12 * span
    ax.set_ylim(lo - pad, hi + pad)
    below = value < lo
    direction = "below" if below else "above"
    ax.annotate(
        f"zero-shot {value:.3f} ({direction} the axis)",
        xy=(0.02, 0.0 if below else 1.0),
        xycoords="axes fraction",
        xytext=(0.02, 0.12 if below else 0.88),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "grey"},
        color="grey",
        fontsize=7,
        va="center",
    )
    return "arrow"


def _decorate(
    fig: Figure,
    axes: list[Any],
    panels: list[tuple[str, ...]],
    df: pd.DataFrame,
    summary: pd.DataFrame,
    numbers: dict[tuple[str, str], int],
    colours: dict[str, str],
    drawn: set[str],
) -> None:
    """Axis labels, the zero-shot level and the legend: curves, line kinds, numbered points."""
    for ax, (y, _, xlabel, title) in zip(axes, panels, strict=True):
        ax.set(xlabel=xlabel, ylabel=Y_LABELS[y], title=title)
    before = df["test_ndcg10_before"] if "test_ndcg10_before" in df else pd.Series(dtype=float)
    zero_shot = pd.to_numeric(before, errors="coerce").mean()
    handles = [Line2D([], [], color=c, lw=2, label=str(curve)) for curve, c in colours.items()]
    if not math.isnan(zero_shot):
        marks = set()
        for ax, (y, x, *_) in zip(axes, panels, strict=True):
            if y == "test_ndcg10":
                shown = summary.dropna(subset=[f"{x}_mean", "test_ndcg10_mean"])
                se = shown["test_ndcg10_se"].fillna(0)
                lo = float((shown["test_ndcg10_mean"] - se).min())
                hi = float((shown["test_ndcg10_mean"] + se).max())
                marks.add(zero_shot_mark(ax, zero_shot, lo, hi))
        if "line" in marks:
            handles.append(
                Line2D([], [], ls="--", color="grey", label=f"zero-shot {zero_shot:.3f}")
            )
    grey = {"color": "black", "lw": 1.5}
    if "quadratic" in drawn:
        handles.append(Line2D([], [], **grey, label="quadratic fit (interior maximum only)"))
        handles.append(Line2D([], [], **grey, ls=":", label="its optimum (95% CI shaded)"))
    if "monotone" in drawn:
        handles.append(
            Line2D([], [], **grey, label="monotone summary of the real miners (isotonic fit)")
        )
    if "joined" in drawn:
        handles.append(Line2D([], [], color="black", lw=1, label="controls' means joined (no fit)"))
    if summary["twin"].any():
        text = "FN-free twin (CONTROL)" + (", means joined" if "joined_twin" in drawn else "")
        handles.append(Line2D([], [], **grey, ls="--", label=text))
    several = len(colours) > 1
    for (curve, label), number in numbers.items():
        row = summary[(summary["curve"] == curve) & (summary["label"].astype(str) == label)].iloc[0]
        style = dict(STYLES[point_kind(row)])
        marker = style.pop("fmt")
        tag = point_tag(row)
        text = f"{number}  {label}" + (f" · {curve}" if several else "")
        text += f"  [{tag}]" if tag else ""
        same = row.get("same_as")
        if isinstance(same, str):
            text += f"  = #{numbers[(curve, same)]} seed for seed"
        short = row.get("num_short_mean")
        if short is not None and math.isfinite(short) and short > 0:
            text += f"  ({short:.0f} queries short)"
        colour = colours[curve] if several else "black"
        handles.append(Line2D([], [], ls="none", marker=marker, color=colour, **style, label=text))
    fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
