"""The false-negative monitor's traces, readable: one panel per measured quantity, the mean over
seeds per miner with a ±1 SE band against the training step, units on every axis, the legend
outside the panels. Jobs of one sweep take the same steps per epoch, so their steps line up.

Quantities in a scorer's own units (the teacher's margins, mean positive and negative scores) are
left out: cosines, BM25 scores and Elo ratings of different miners cannot share one axis.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zelo.analysis.titles import figure_title
from zelo.keys import (
    DEV_NDCG,
    DUP_OF_POSITIVE_RATE,
    FN_INBATCH_RATE,
    FN_PREFIX,
    FN_RATE,
    FN_STUDENT_ABOVE_POS,
    FN_STUDENT_ABOVE_POS_FN,
    FN_STUDENT_ABOVE_POS_TN,
    FN_STUDENT_MARGIN_MEAN,
    FN_TEACHER_RATE,
    MINER_NDCG,
    MINER_PREFIX,
    MINING_PREFIX,
    VAL_PREFIX,
)

log = logging.getLogger(__name__)

TRACE_PREFIXES = (FN_PREFIX, MINING_PREFIX, MINER_PREFIX, VAL_PREFIX)


@dataclass(frozen=True)
class Quantity:
    """A logged metric as a panel: its title and the unit of its y-axis."""

    key: str
    title: str
    unit: str


SHARE_MINED = "share of mined negatives"
QUANTITIES = (
    Quantity(DEV_NDCG, "Student on dev", "nDCG@10"),
    Quantity(MINER_NDCG, "Miner intelligence", "miner nDCG@10"),
    Quantity(FN_RATE, "False negatives among mined (exact)", SHARE_MINED),
    Quantity(FN_TEACHER_RATE, "False negatives among mined (teacher est.)", SHARE_MINED),
    Quantity(DUP_OF_POSITIVE_RATE, "Duplicates of a positive mined", SHARE_MINED),
    Quantity(FN_INBATCH_RATE, "False negatives among in-batch", "share of in-batch negatives"),
    Quantity(FN_STUDENT_ABOVE_POS, "Student ranks negative above positive", SHARE_MINED),
    Quantity(FN_STUDENT_ABOVE_POS_FN, "... among false negatives", "share of mined FNs"),
    Quantity(FN_STUDENT_ABOVE_POS_TN, "... among true negatives", "share of mined TNs"),
    Quantity(FN_STUDENT_MARGIN_MEAN, "Student margin s(neg) - s(pos)", "cosine difference"),
)
"""The panels, in order; a quantity no job logged gets no panel. Keys come from
:mod:`zelo.keys`, where the writers take them too."""


def seed_means(traces: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Mean and standard error over jobs (seeds) per (metric, label, step).

    Args:
        traces: long table of :func:`zelo.analysis.results.collect_traces` (``job``, ``step``,
            ``metric``, ``value``).
        labels: job folder -> its point's label (the miner and its settings).

    Returns:
        Columns ``metric``, ``label``, ``step``, ``mean``, ``se`` (NaN for one job), ``n``.
        A job that logged a metric twice at one step counts with its last value.
    """
    df = traces[traces["job"].isin(labels)].dropna(subset=["value", "step"]).copy()
    df["label"] = df["job"].map(labels)
    last = df.groupby(["metric", "label", "job", "step"], sort=True)["value"].last().reset_index()
    grouped = last.groupby(["metric", "label", "step"], sort=True)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["se"] = out["std"] / np.sqrt(out["n"])
    return out.drop(columns="std")


def plot_traces(traces: pd.DataFrame, results: pd.DataFrame, title: str | None = None) -> Figure:
    """One panel per quantity of :data:`QUANTITIES`; a line (a point with an error bar when
    logged once) per miner.

    Args:
        traces: :func:`zelo.analysis.results.collect_traces` with :data:`TRACE_PREFIXES`.
        results: :func:`zelo.analysis.results.collect_results` (gives each job its label).
        title: the figure's title (default: :func:`zelo.analysis.titles.figure_title` of
            ``results``: dataset, student, seeds).
    """
    labels = dict(zip(results["job"], results["label"], strict=True)) if len(results) else {}
    stats = seed_means(traces, labels) if len(traces) else pd.DataFrame(columns=["metric"])
    shown = [q for q in QUANTITIES if q.key in set(stats["metric"])]
    cols = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / cols))
    fig = Figure(figsize=(4.6 * cols + 2.4, 3.1 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(title or figure_title(results), fontsize=9)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharex=True)).ravel()
    if not shown:
        axes[0].text(0.5, 0.5, "no monitored quantity in the CSV logs", ha="center")
        return fig
    names = sorted(stats["label"].unique())
    colors = {name: _color(i, len(names)) for i, name in enumerate(names)}
    for ax, quantity in zip(axes, shown, strict=False):
        _panel(ax, stats[stats["metric"] == quantity.key], quantity, colors)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    for ax in axes[: len(shown)]:  # one step axis for all: a once-logged quantity sits at its step
        ax.tick_params(labelbottom=True)
    handles = [_handle(colors[n], n) for n in names]  # one entry per miner, for every panel
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, title="miner (mean ± SE)")
    return fig


def _panel(ax, part: pd.DataFrame, quantity: Quantity, colors: dict[str, tuple]) -> None:
    for name, line in part.groupby("label", sort=True):
        line = line.sort_values("step")
        x, y, se = (
            line["step"].to_numpy(),
            line["mean"].to_numpy(),
            line["se"].fillna(0).to_numpy(),
        )
        ax.plot(x, y, marker="o", ms=3, lw=1.4, color=colors[name])
        ax.fill_between(x, y - se, y + se, color=colors[name], alpha=0.12, lw=0)
        if len(x) == 1:
            ax.errorbar(x, y, yerr=se, color=colors[name], capsize=3, lw=1)
    ax.set_title(quantity.title, fontsize=9)
    ax.set_xlabel("training step")
    ax.set_ylabel(quantity.unit)
    ax.grid(alpha=0.3)


def _color(i: int, n: int) -> tuple:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return cmap(i % cmap.N)


def _handle(color: tuple, name: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, marker="o", ms=4, lw=1.4, label=name)
