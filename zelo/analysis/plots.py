"""Figures of a sweep: the Laffer curve and the FN rate (the monitor's traces: ``traces.py``).

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg canvas, so
nothing here touches pyplot's global state (notebooks keep their own backend).
"""

from __future__ import annotations

import io
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zelo.analysis.laffer import summarise
from zelo.analysis.results import is_adaptive

log = logging.getLogger(__name__)


def plot_laffer(df: pd.DataFrame, fits: dict[str, dict[str, Any]] | None = None) -> Figure:
    """Student test nDCG@10 (left) and FN rate (right) against measured miner intelligence.

    Args:
        df: the results table (one row per job).
        fits: :func:`zelo.analysis.laffer.fit_laffer` results keyed by loss; each fitted curve,
            its optimum and the optimum's CI (shaded) are drawn in the loss's colour.

    Returns:
        The figure: mean ± SE per label, labelled by point; an adaptive miner's point as a star
        at the intelligence of its last mining pass; a dashed line at the zero-shot level.
    """
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_q, ax_fn = fig.subplots(1, 2)
    if df.empty:
        for ax in (ax_q, ax_fn):
            ax.text(0.5, 0.5, "no finished job yet", ha="center", va="center")
        return fig
    summary = summarise(df)
    fits = fits or {}
    for i, (loss, part) in enumerate(_by_loss(summary)):
        color = f"C{i}"
        name = str(loss) if len(fits) > 1 or len(summary["loss"].unique()) > 1 else None
        moving = is_adaptive(part)
        _points(ax_q, part[~moving], "test_ndcg10", color, name)
        _points(ax_fn, part[~moving], "fn_rate", color, name)
        _fitted(ax_q, fits.get(str(loss)), color, name)
        if moving.any():
            star = {"fmt": "*", "markersize": 14, "markeredgecolor": "black"}
            label = f"{name}: adaptive (last pass)" if name else "adaptive (last pass)"
            _points(ax_q, part[moving], "test_ndcg10", color, label, **star)
            _points(ax_fn, part[moving], "fn_rate", color, label, **star)
    zero_shot = pd.to_numeric(df["test_ndcg10_before"], errors="coerce").mean()
    if not math.isnan(zero_shot):
        ax_q.axhline(zero_shot, ls="--", color="grey", lw=1, label=f"zero-shot {zero_shot:.3f}")
    ax_q.set(
        xlabel="miner intelligence (miner nDCG@10)",
        ylabel="student test nDCG@10",
        title="Student quality against miner intelligence",
    )
    ax_fn.set(
        xlabel="miner intelligence (miner nDCG@10)",
        ylabel="false-negative rate of negatives",
        title="False negatives handed to the loss",
    )
    if summary["loss"].nunique() > 1:  # one legend beside both panels, off the points
        fig.set_size_inches(15, 5.2)
        fig.legend(*ax_q.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
        return fig
    ax_q.legend(fontsize=8)
    if ax_fn.get_legend_handles_labels()[0]:
        ax_fn.legend(fontsize=8)
    return fig


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """The figure rendered as PNG bytes (write them with ``atomic_write_bytes``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _by_loss(summary: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    if "loss" not in summary.columns:
        return [(None, summary)]
    return [(loss, part) for loss, part in summary.groupby("loss", dropna=False, sort=True)]


def _points(
    ax: Any, part: pd.DataFrame, metric: str, color: str, name: str | None, **style: Any
) -> None:
    part = part.dropna(subset=["intelligence_mean", f"{metric}_mean"])
    ax.errorbar(
        part["intelligence_mean"],
        part[f"{metric}_mean"],
        yerr=part[f"{metric}_se"],
        xerr=part["intelligence_se"],
        **{"fmt": "o", **style},
        color=color,
        capsize=3,
        label=name,
    )
    for _, row in part.iterrows():
        ax.annotate(
            str(row["label"]),
            (row["intelligence_mean"], row[f"{metric}_mean"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )


def _fitted(ax: Any, fit: dict[str, Any] | None, color: str, name: str | None) -> None:
    """The fitted curve, its optimum (dotted) and the optimum's CI (shaded). With several losses
    (``name`` given) one legend entry stands for all three, so the legend stays short."""
    if not fit or not fit.get("fitted"):
        return

    def label(text: str) -> str:
        return "_nolegend_" if name else text

    if name:
        ax.plot([], [], color=color, lw=1.5, label=f"{name}: fit, optimum (dotted), 95% CI")
    lo, hi = fit["x_range"]
    xs = np.linspace(lo, hi, 200)
    ys = np.polynomial.polynomial.polyval(xs, fit["coefficients"])
    ax.plot(xs, ys, color=color, lw=1.5, label=label(f"degree-{fit['degree']} fit"))
    ci_lo, ci_hi = fit["ci"]
    if not (math.isnan(ci_lo) or math.isnan(ci_hi)):
        ax.axvspan(ci_lo, ci_hi, color=color, alpha=0.12, label=label("optimum 95% CI"))
    ax.axvline(
        fit["optimum"], color=color, lw=1, ls=":", label=label(f"optimum {fit['optimum']:.3f}")
    )
