"""laffer.png: student quality against miner intelligence, FN rate and true-negative hardness.

What the figure promises: every point is the mean ± SE over seeds (n written under the panels);
hollow markers are CONTROLS (they read the full judgments: the oracle and the dial, simulated
judges, the FN-free twin), a hollow star is an UPPER BOUND (``adaptive_oracle``); the FN-free
twin curve is dashed in its miner's colour. A quadratic is drawn only where the verdict finds an
interior maximum, the only case its bend means something; elsewhere an isotonic (monotone) summary
follows the means. The optimum and its CI are drawn only when it is interior and the CI has a
width. Points carry numbers placed so that they do not overlap; the legend beside the panels
names them. The verdicts of ``laffer.json`` are written under the panels.
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

from zelo.analysis.kinds import curve_names, point_numbers, point_tag
from zelo.analysis.laffer import summarise
from zelo.analysis.monotone import monotone_summary
from zelo.analysis.placement import label_points
from zelo.analysis.results import is_adaptive

# (y metric, x metric, x label, title) of each panel; the hardness panel only when measured
PANELS = (
    ("test_ndcg10", "intelligence", "miner intelligence (miner nDCG@10)", "Student quality"),
    ("fn_rate", "intelligence", "miner intelligence (miner nDCG@10)", "False negatives mined"),
    (
        "test_ndcg10",
        "tn_hardness",
        "true-negative hardness (reference score - positive's; higher = harder)",
        "Student quality against the hardness of true negatives",
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
    """What the error bars are: ``mean ± SE over n seeds (n = 3)`` (or ``n = 2-3``)."""
    n = summary["n_seeds"].astype(int)
    count = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
    single = " A single seed gives no error bar." if n.min() < 2 else ""
    return (
        f"Points: mean ± SE over seeds (n = {count}); vertical bars SE of the y value, horizontal "
        f"bars SE of the x value.{single} Hollow markers: CONTROL (reads the full judgments); "
        "hollow star: UPPER BOUND; dashed: FN-free twin (CONTROL)."
    )


def plot_laffer(
    df: pd.DataFrame,
    fits: dict[str, dict[str, Any]] | None = None,
    twin_fits: dict[str, dict[str, Any]] | None = None,
) -> Figure:
    """The Laffer figure of a sweep.

    Args:
        df: the results table (one row per job).
        fits: :func:`zelo.analysis.report.fit_by_loss` of the raw points, keyed by curve.
        twin_fits: the same of the FN-free twins.

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
    numbers = point_numbers(summary["label"])
    panels = [p for p in PANELS if _measured(summary, p[1])]
    lines = _verdict_lines(summary, fits or {}, twin_fits or {})
    fig, axes = _layout(len(panels), lines, len(numbers) + 8)
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
        texts = [str(numbers[str(label)]) for label in shown["label"]]
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
    """The quadratic (interior maximum only) or the isotonic summary of one curve's points."""
    part = part.dropna(subset=["intelligence_mean", "test_ndcg10_mean"])
    if len(part) < 2:
        return set()
    if not draws_quadratic(fit):
        columns = ("intelligence_mean", "test_ndcg10_mean", "n_seeds")
        xs, fitted, _ = monotone_summary(*(part[c].to_numpy(float) for c in columns), fit)
        ax.plot(xs, fitted, color=colour, ls=ls, lw=1.5)
        return {"monotone"}
    xs = np.linspace(*fit["x_range"], 200)
    ax.plot(xs, np.polynomial.polynomial.polyval(xs, fit["coefficients"]), color=colour, ls=ls)
    ax.axvline(fit["optimum"], color=colour, lw=1, ls=":")
    lo, hi = fit["ci"]
    if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        ax.axvspan(lo, hi, color=colour, alpha=0.12)
    return {"quadratic"}


def _decorate(
    fig: Figure,
    axes: list[Any],
    panels: list[tuple[str, ...]],
    df: pd.DataFrame,
    summary: pd.DataFrame,
    numbers: dict[str, int],
    colours: dict[str, str],
    drawn: set[str],
) -> None:
    """Axis labels, the zero-shot line and the legend: curves, line kinds, numbered points."""
    for ax, (y, _, xlabel, title) in zip(axes, panels, strict=True):
        ax.set(xlabel=xlabel, ylabel=Y_LABELS[y], title=title)
    before = df["test_ndcg10_before"] if "test_ndcg10_before" in df else pd.Series(dtype=float)
    zero_shot = pd.to_numeric(before, errors="coerce").mean()
    handles = [Line2D([], [], color=c, lw=2, label=str(curve)) for curve, c in colours.items()]
    if not math.isnan(zero_shot):
        for ax, (y, *_) in zip(axes, panels, strict=True):
            if y == "test_ndcg10":
                ax.axhline(zero_shot, ls="--", color="grey", lw=1)
        handles.append(Line2D([], [], ls="--", color="grey", label=f"zero-shot {zero_shot:.3f}"))
    grey = {"color": "black", "lw": 1.5}
    if "quadratic" in drawn:
        handles.append(Line2D([], [], **grey, label="quadratic fit (interior maximum only)"))
        handles.append(Line2D([], [], **grey, ls=":", label="its optimum (95% CI shaded)"))
    if "monotone" in drawn:
        handles.append(Line2D([], [], **grey, label="monotone summary (isotonic fit)"))
    if summary["twin"].any():
        handles.append(Line2D([], [], **grey, ls="--", label="FN-free twin (CONTROL)"))
    for label, number in numbers.items():
        row = summary[summary["label"].astype(str) == label].iloc[0]
        style = dict(STYLES[point_kind(row)])
        marker = style.pop("fmt")
        tag = point_tag(row)
        text = f"{number}  {label}" + (f"  [{tag}]" if tag else "")
        handles.append(Line2D([], [], ls="none", marker=marker, color="black", **style, label=text))
    fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
