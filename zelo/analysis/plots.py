"""Figures of a sweep: the completeness surface and PNG bytes (the monitor's traces: ``traces.py``).

The Laffer figure itself lives in :mod:`zelo.analysis.laffer_plot` (re-exported here).

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg canvas, so
nothing here touches pyplot's global state (notebooks keep their own backend).
"""

from __future__ import annotations

import io
import logging
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from zelo.analysis.kinds import keep_text
from zelo.analysis.laffer_plot import plot_laffer
from zelo.analysis.titles import figure_title

log = logging.getLogger(__name__)

__all__ = ["figure_png", "plot_laffer", "plot_surface", "surface_matrix"]


def surface_matrix(cells: pd.DataFrame, column: str = "test_ndcg10_mean") -> pd.DataFrame:
    """Cells as a matrix: completeness levels (sparsest first) x labels (by mean intelligence).

    Args:
        cells: the surface's cells of one loss (``keep_positives``, ``label``,
            ``intelligence_mean`` and ``column``).
        column: the value to lay out.

    Returns:
        ``[levels, labels]``, NaN where a cell has no job.
    """
    order = cells.groupby("label")["intelligence_mean"].mean().sort_values(kind="mergesort")
    matrix = cells.pivot_table(index="keep_positives", columns="label", values=column, dropna=False)
    return matrix.reindex(columns=list(order.index)).sort_index()


def plot_surface(surface: dict[str, dict[str, Any]], title: str | None = None) -> Figure:
    """Heat map per loss: completeness (y) x point label (x, by intelligence) -> test nDCG@10.

    Each cell is annotated with mean ± SE over seeds; each level's optimum is outlined; the
    title names what the figure is drawn from (``title``: the sweep, dataset, student, seeds),
    then the claim's statement.

    Args:
        surface: :func:`zelo.analysis.surface.analyse_surface`'s record.
        title: the first line of the title (default: the dataset and student of the cells).
    """
    losses = list(surface)
    width = max(7.0, 1.3 * max(len(set(c["label"] for c in s["cells"])) for s in surface.values()))
    fig = Figure(figsize=(width, 4.2 * max(1, len(losses)) + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(max(1, len(losses)), 1))
    for ax, loss in zip(axes, losses, strict=False):
        _heat_map(fig, ax, loss, surface[loss])
    claims = [f"{loss}: {s['claim']['statement']}" for loss, s in surface.items()]
    wrapped = "\n".join(w for c in claims for w in textwrap.wrap(c, int(width * 15)))
    head = title or figure_title(pd.DataFrame([c for s in surface.values() for c in s["cells"]]))
    head = "\n".join(textwrap.wrap(head, int(width * 13)))
    fig.suptitle(f"{head}\n{wrapped or 'no surface'}", fontsize=8, ha="left", x=0.01)
    return fig


def _heat_map(fig: Figure, ax: Any, loss: str, record: dict[str, Any]) -> None:
    cells = pd.DataFrame(record["cells"])
    means, ses = surface_matrix(cells), surface_matrix(cells, "test_ndcg10_se")
    image = ax.imshow(means.to_numpy(float), origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="student test nDCG@10 (mean over seeds)")
    intelligence = surface_matrix(cells, "intelligence_mean").mean(axis=0)
    ax.set_xticks(range(len(means.columns)))
    ax.set_xticklabels(
        [f"{label}\n{x:.2f}" for label, x in intelligence.items()], fontsize=7, rotation=30
    )
    ax.set_yticks(range(len(means.index)), [keep_text(k) for k in means.index])
    ax.set(
        xlabel="point (measured miner intelligence below its name)",
        ylabel="labelled positives per query",
        title=(
            f"{loss}, raw miners: mean ± SE over seeds; optimum of each level outlined\n"
            "(FN-free twins are left out: see the FN-free decomposition)"
        ),
    )
    lo, hi = np.nanmin(means.to_numpy(float)), np.nanmax(means.to_numpy(float))
    for i, keep in enumerate(means.index):
        for j, label in enumerate(means.columns):
            mean, se = means.loc[keep, label], ses.loc[keep, label]
            if math.isnan(mean):
                continue
            dark = hi > lo and (mean - lo) / (hi - lo) < 0.5
            text = f"{mean:.4f}\n± {se:.4f}" if not math.isnan(se) else f"{mean:.4f}\n(1 seed)"
            colour = "white" if dark else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    for optimum in record["optima"]:
        i = list(means.index).index(optimum["keep_positives"])
        j = list(means.columns).index(optimum["optimum_label"])
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """The figure rendered as PNG bytes (write them with ``atomic_write_bytes``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
