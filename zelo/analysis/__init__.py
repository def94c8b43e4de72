"""Analysis of sweeps: results table, Laffer-curve fit, FN-free decomposition, completeness
surface, figures, the files a sweep ends with, and the results page.

``python -m zelo.analysis SWEEP_DIR`` (or the Hydra callback ``hydra/callbacks=laffer``) writes
``results.csv``, ``laffer.png`` and ``laffer.json`` (and ``surface.png`` when the sweep varies
``annotation.keep_positives``) into the sweep folder; ``python -m zelo.analysis --report DIR ...``
writes ``docs/RESULTS.md``.
"""

from __future__ import annotations

from zelo.analysis.compare import adaptive_vs_best_fixed, right_side_recovery
from zelo.analysis.decompose import fn_decomposition
from zelo.analysis.laffer import fit_laffer, peak_verdict, summarise
from zelo.analysis.page import write_page
from zelo.analysis.plots import figure_png, plot_laffer, plot_surface
from zelo.analysis.report import analyse, fit_by_loss, write_outputs
from zelo.analysis.results import (
    SweepStatus,
    collect_results,
    collect_traces,
    job_dirs,
    latest_sweep,
    resolve_sweep_dir,
)
from zelo.analysis.surface import analyse_surface
from zelo.analysis.traces import TRACE_PREFIXES, plot_traces, seed_means

__all__ = [
    "SweepStatus",
    "TRACE_PREFIXES",
    "adaptive_vs_best_fixed",
    "analyse",
    "analyse_surface",
    "collect_results",
    "collect_traces",
    "figure_png",
    "fit_by_loss",
    "fit_laffer",
    "fn_decomposition",
    "job_dirs",
    "latest_sweep",
    "peak_verdict",
    "plot_laffer",
    "plot_surface",
    "plot_traces",
    "resolve_sweep_dir",
    "right_side_recovery",
    "seed_means",
    "summarise",
    "write_outputs",
    "write_page",
]
