"""``write_outputs(sweep_dir)``: results.csv, laffer.png, laffer.json (and surface.png) in a sweep.

Every file is written atomically (temporary file in the same folder, then ``os.replace``), so a
reader never sees half a file and rerunning the analysis on a growing sweep is safe.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from matplotlib.figure import Figure

from zelo.analysis.compare import (
    adaptive_vs_best_fixed,
    describe_adaptive,
    describe_recovery,
    right_side_recovery,
)
from zelo.analysis.decompose import describe_decomposition, fn_decomposition
from zelo.analysis.kinds import curve_names, is_twin, keep_text, point_keys
from zelo.analysis.laffer import fit_laffer, summarise
from zelo.analysis.plots import figure_png, plot_laffer, plot_surface
from zelo.analysis.results import SweepStatus, collect_results, is_adaptive, job_dirs
from zelo.analysis.surface import analyse_surface
from zelo.analysis.titles import figure_title, point_repeats
from zelo.keys import CONFIG_FILE, PLOT_FILE, REPORT_FILE, RESULTS_FILE, SURFACE_PLOT_FILE
from zelo.run.wandb_ids import drop_offline_copies, folder_run_id
from zelo.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "zelo"


def fit_by_loss(
    df: pd.DataFrame, n_boot: int = 1000, seed: int = 0, twin: bool = False
) -> dict[str, dict[str, Any]]:
    """:func:`fit_laffer` on each curve's jobs, keyed by curve name: the loss (``unknown`` when
    unrecorded), with ``keep=K`` appended when the sweep varies the annotation completeness.

    Jobs of an adaptive miner (:func:`zelo.analysis.results.is_adaptive`) are left out: their
    intelligence moved during training, so they are no point of a fixed miner's curve. The
    FN-free twins form their own curves (``twin=True``) and are left out of the raw ones.
    """
    if df.empty:
        return {}
    df = df[~is_adaptive(df) & (is_twin(df) == twin)]
    curves = curve_names(df)
    return {
        curve: fit_laffer(df[curves == curve], n_boot=n_boot, seed=seed)
        for curve in sorted(curves.unique())
    }


@dataclass
class Analysis:
    """A sweep's analysis in memory: the results table, laffer.json's content, the figures."""

    results: pd.DataFrame
    report: dict[str, Any]
    figures: dict[str, Figure] = field(default_factory=dict)  # file name -> figure


def analyse(
    sweep_dir: str | Path, n_boot: int = 1000, seed: int = 0, title_name: str | None = None
) -> Analysis:
    """Read a (possibly unfinished) sweep and compute everything its files hold; write nothing.

    ``title_name`` names the sweep in the figures' titles (default: the folder's name).

    Raises:
        FileNotFoundError: ``sweep_dir`` is no folder.
    """
    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no sweep folder at {root}")
    status = SweepStatus()
    df = collect_results(root, status)
    fits = fit_by_loss(df, n_boot=n_boot, seed=seed)
    twin_fits = fit_by_loss(df, n_boot=n_boot, seed=seed, twin=True)
    summary = summarise(df)
    repeats = point_repeats(df)  # one measurement at several x: the twin above the base scorer
    summary["same_as"] = [repeats.get(k) for k in point_keys(summary)]
    surface = analyse_surface(df, n_boot=n_boot, seed=seed)
    report = {
        "sweep": root.name,
        "n_jobs": len(df),
        "pending": status.pending,
        "corrupt": status.corrupt,
        "failed": status.failed,
        "fits": fits,
        # the FN-free twins' curves: CONTROLS (they read the full judgments)
        "twin_fits": twin_fits,
        # each loss against plain InfoNCE at the most intelligent miners (the right side)
        "loss_comparison": right_side_recovery(summary),
        # each curve's practical adaptive miner against its best fixed miner; upper bound apart
        "adaptive_comparison": adaptive_vs_best_fixed(summary),
        # per miner with a twin: hardness benefit (twin - random) and FN damage (raw - twin)
        "fn_decomposition": fn_decomposition(df).to_dict(orient="records"),
        # per completeness level: the optimum and its bootstrap CI; the claim tested
        "surface": surface,
        "summary": _with_completeness(summary).to_dict(orient="records"),
    }
    title = figure_title(df, sweep=title_name or root.name)
    figures = {PLOT_FILE: plot_laffer(df, fits, twin_fits, title=title)}
    if surface:
        figures[SURFACE_PLOT_FILE] = plot_surface(surface, title=title)
    return Analysis(df, report, figures)


def write_outputs(
    sweep_dir: str | Path,
    use_wandb: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    project: str | None = None,
) -> dict[str, Any]:
    """Analyse a (possibly unfinished) sweep and write ``results.csv``, ``laffer.png``,
    ``laffer.json`` (and ``surface.png`` when it varies the annotation completeness) into it;
    optionally log the same to W&B as a summary run of the sweep's group.

    Args:
        sweep_dir: the Hydra sweep folder.
        use_wandb: also log a ``laffer-summary`` run (offline unless ``WANDB_MODE=online``).
        n_boot: bootstrap resamples for the optimum's CI.
        seed: seed of the bootstrap.
        project: W&B project; default: the jobs' ``logger.wandb.project``, else ``zelo``.

    Returns:
        The content of ``laffer.json``.
    """
    root = Path(sweep_dir)
    result = analyse(root, n_boot=n_boot, seed=seed)
    df, report = result.results, result.report
    atomic_write_text(root / RESULTS_FILE, df.to_csv(index=False, lineterminator="\n"))
    for name, fig in result.figures.items():
        atomic_write_bytes(root / name, figure_png(fig))
    atomic_write_json(root / REPORT_FILE, finite(report))
    _log_report(report)
    log.info(
        "%d job(s) analysed, %d failed, %d running or stopped, %d corrupt; wrote %s, %s in %s",
        len(df),
        len(report["failed"]),
        len(report["pending"]),
        len(report["corrupt"]),
        RESULTS_FILE,
        ", ".join([*result.figures, REPORT_FILE]),
        root,
    )
    if use_wandb and importlib.util.find_spec("wandb") is None:
        log.warning("wandb is not installed: the W&B summary run is not logged (pip install wandb)")
    elif use_wandb:
        log_to_wandb(root, df, report, project or sweep_project(root))
    return report


def _log_report(report: dict[str, Any]) -> None:
    for curve, fit in report["fits"].items():
        log.info("%s: %s", curve, fit["statement"])
    for curve, fit in report["twin_fits"].items():
        log.info("%s, FN-free twin (CONTROL): %s", curve, fit["statement"])
    for record in report["fn_decomposition"]:
        log.info("%s", describe_decomposition(record))
    for loss, record in report["surface"].items():
        log.info("surface %s: %s", loss, record["claim"]["statement"])
    for record in report["loss_comparison"]:
        log.info("%s", describe_recovery(record))
    for record in report["adaptive_comparison"]:
        log.info("%s", describe_adaptive(record))


def _with_completeness(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with ``completeness`` in words (``all`` where JSON's null would be ambiguous)."""
    if "keep_positives" not in summary.columns:
        return summary
    return summary.assign(completeness=summary["keep_positives"].map(keep_text))


def log_to_wandb(root: Path, df: pd.DataFrame, report: dict[str, Any], project: str) -> None:
    """Log the figure, the results table and each loss's optimum as one W&B analysis run.

    Its id is kept in the sweep folder (``wandb_run_id``), so analysing again replaces the run
    (online: continues it; offline: the earlier local copy is deleted) instead of adding one.
    The run joins the sweep's group (the sweep folder's name, as the jobs' runs do) and writes
    under ``<sweep>/wandb/``; it is offline unless ``WANDB_MODE=online``.
    """
    import wandb

    run_id = folder_run_id(root)  # one summary run per sweep: a re-analysis replaces it
    drop_offline_copies(root / "wandb", run_id)
    run = wandb.init(
        project=project,
        id=run_id,
        resume="allow",
        group=root.name,
        name="laffer-summary",
        job_type="analysis",
        dir=str(root),
        mode=wandb_mode(),
        settings=wandb.Settings(silent=True),
    )
    try:
        table = wandb.Table(dataframe=df.astype(object).where(df.notna(), None))
        run.log({"laffer": wandb.Image(str(root / PLOT_FILE)), "results": table})
        run.summary["n_jobs"] = report["n_jobs"]
        run.summary["n_pending"] = len(report["pending"])
        run.summary["n_failed"] = len(report["failed"])
        for loss, fit in report["fits"].items():
            # the optimum and its CI only where the verdict finds an interior maximum
            keys = ("interior", "peak_beats_both_ends", "statement", "peak_label")
            keys += ("optimum", "ci") if fit.get("interior") else ()
            for key in keys:
                if key in fit:
                    run.summary[f"laffer/{loss}/{key}"] = finite(fit[key])
    finally:
        wandb.finish()


def wandb_mode() -> str:
    """``online`` only when ``WANDB_MODE`` asks for it; ``disabled`` is respected; else offline."""
    mode = os.environ.get("WANDB_MODE", "offline").lower()
    if mode in ("online", "run"):
        return "online"
    return "disabled" if mode == "disabled" else "offline"


def sweep_project(root: Path) -> str:
    """The W&B project the sweep's jobs logged to (their ``config.yaml``), else ``zelo``."""
    for job in job_dirs(root):
        try:
            cfg = yaml.safe_load((job / CONFIG_FILE).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        project = ((cfg.get("logger") or {}).get("wandb") or {}).get("project")
        if project:
            return str(project)
    return DEFAULT_PROJECT


def finite(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by ``None`` (strict JSON) and numpy scalars unwrapped."""
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
