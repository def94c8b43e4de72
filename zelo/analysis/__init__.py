"""Analysis of sweeps: results table, Laffer-curve fit, figures, and the files a sweep ends with.

``python -m zelo.analysis SWEEP_DIR`` (or the Hydra callback ``hydra/callbacks=laffer``) writes
``results.csv``, ``laffer.png`` and ``laffer.json`` into the sweep folder.
"""

from __future__ import annotations

from zelo.analysis.compare import adaptive_vs_best_fixed, right_side_recovery
from zelo.analysis.laffer import fit_laffer, peak_verdict, summarise
from zelo.analysis.plots import figure_png, plot_laffer
from zelo.analysis.report import fit_by_loss, write_outputs
from zelo.analysis.results import (
    SweepStatus,
    collect_results,
    collect_traces,
    job_dirs,
    latest_sweep,
)
from zelo.analysis.traces import TRACE_PREFIXES, plot_traces, seed_means

__all__ = [
    "SweepStatus",
    "TRACE_PREFIXES",
    "adaptive_vs_best_fixed",
    "collect_results",
    "collect_traces",
    "figure_png",
    "fit_by_loss",
    "fit_laffer",
    "job_dirs",
    "latest_sweep",
    "peak_verdict",
    "plot_laffer",
    "plot_traces",
    "right_side_recovery",
    "seed_means",
    "summarise",
    "write_outputs",
]
