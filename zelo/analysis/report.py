"""``write_outputs(sweep_dir)``: results.csv, laffer.png and laffer.json in the sweep folder.

Every file is written atomically (temporary file in the same folder, then ``os.replace``), so a
reader never sees half a file and rerunning the analysis on a growing sweep is safe.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from zelo.analysis.compare import (
    adaptive_vs_best_fixed,
    describe_adaptive,
    describe_recovery,
    right_side_recovery,
)
from zelo.analysis.laffer import fit_laffer, summarise
from zelo.analysis.plots import figure_png, plot_laffer
from zelo.analysis.results import SweepStatus, collect_results, is_adaptive, job_dirs
from zelo.keys import CONFIG_FILE, PLOT_FILE, REPORT_FILE, RESULTS_FILE
from zelo.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "zelo"


def fit_by_loss(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """:func:`fit_laffer` on each loss's jobs, keyed by loss name (``unknown`` when unrecorded).

    Jobs of an adaptive miner (:func:`zelo.analysis.results.is_adaptive`) are left out: their
    intelligence moved during training, so they are no point of a fixed miner's curve.
    """
    if df.empty:
        return {}
    df = df[~is_adaptive(df)]
    losses = df["loss"].fillna("unknown").astype(str)
    return {
        loss: fit_laffer(df[losses == loss], n_boot=n_boot, seed=seed)
        for loss in sorted(losses.unique())
    }


def write_outputs(
    sweep_dir: str | Path,
    use_wandb: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    project: str | None = None,
) -> dict[str, Any]:
    """Analyse a (possibly unfinished) sweep and write ``results.csv``, ``laffer.png``,
    ``laffer.json`` into it; optionally log the same to W&B as a summary run of the sweep's group.

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
    if not root.is_dir():
        raise FileNotFoundError(f"no sweep folder at {root}")
    status = SweepStatus()
    df = collect_results(root, status)
    fits = fit_by_loss(df, n_boot=n_boot, seed=seed)
    summary = summarise(df)
    report = {
        "sweep": root.name,
        "n_jobs": len(df),
        "pending": status.pending,
        "corrupt": status.corrupt,
        "fits": fits,
        # each loss against plain InfoNCE at the most intelligent miners (the right side)
        "loss_comparison": right_side_recovery(summary),
        # each loss's adaptive miner against its best fixed miner
        "adaptive_comparison": adaptive_vs_best_fixed(summary),
        "summary": summary.to_dict(orient="records"),
    }
    atomic_write_text(root / RESULTS_FILE, df.to_csv(index=False, lineterminator="\n"))
    atomic_write_bytes(root / PLOT_FILE, figure_png(plot_laffer(df, fits)))
    atomic_write_json(root / REPORT_FILE, _finite(report))
    for loss, fit in fits.items():
        log.info("%s: %s", loss, fit["statement"])
    for record in report["loss_comparison"]:
        log.info("%s", describe_recovery(record))
    for record in report["adaptive_comparison"]:
        log.info("%s", describe_adaptive(record))
    log.info(
        "%d job(s) analysed, %d pending or failed, %d corrupt; wrote %s, %s, %s in %s",
        len(df),
        len(status.pending),
        len(status.corrupt),
        RESULTS_FILE,
        PLOT_FILE,
        REPORT_FILE,
        root,
    )
    if use_wandb:
        log_to_wandb(root, df, report, project or sweep_project(root))
    return report


def log_to_wandb(root: Path, df: pd.DataFrame, report: dict[str, Any], project: str) -> None:
    """Log the figure, the results table and each loss's optimum as one W&B analysis run.

    The run joins the sweep's group (the sweep folder's name, as the jobs' runs do) and writes
    under ``<sweep>/wandb/``; it is offline unless ``WANDB_MODE=online``.
    """
    import wandb

    run = wandb.init(
        project=project,
        group=root.name,
        name="laffer-summary",
        job_type="analysis",
        dir=str(root),
        mode=wandb_mode(),
    )
    try:
        table = wandb.Table(dataframe=df.astype(object).where(df.notna(), None))
        run.log({"laffer": wandb.Image(str(root / PLOT_FILE)), "results": table})
        run.summary["n_jobs"] = report["n_jobs"]
        run.summary["n_pending"] = len(report["pending"])
        for loss, fit in report["fits"].items():
            for key in ("optimum", "ci", "peak_beats_both_ends", "statement", "peak_label"):
                if key in fit:
                    run.summary[f"laffer/{loss}/{key}"] = _finite(fit[key])
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


def _finite(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by ``None`` (strict JSON) and numpy scalars unwrapped."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
