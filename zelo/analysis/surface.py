"""Annotation completeness as a second axis: the surface intelligence x completeness -> quality.

When a sweep varies ``annotation.keep_positives``, every (completeness level, point label) cell
gets the mean ± SE over seeds of student test nDCG@10; each level gets its optimum (the label of
the best mean) and a bootstrap 95 % CI of the optimum's location on the intelligence axis (the
seeds of each label resampled with replacement, the argmax retaken, its mean intelligence read).
The claim tested: *the optimum moves to lower intelligence as annotation gets sparser*.
Adaptive miners and FN-free twins are left out of the surface.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from zelo.analysis.kinds import control_text, is_twin, keep_text
from zelo.analysis.laffer import summarise
from zelo.analysis.results import is_adaptive

CI_LEVELS = (2.5, 97.5)


def is_surface(df: pd.DataFrame) -> bool:
    """Does the table hold at least two annotation completeness levels?"""
    return "keep_positives" in df.columns and df["keep_positives"].dropna().nunique() >= 2


def surface_points(df: pd.DataFrame) -> pd.DataFrame:
    """The jobs that make the surface: fixed miners, no twins, a known completeness."""
    keep = ~is_adaptive(df) & ~is_twin(df)
    return df[keep].dropna(subset=["keep_positives", "test_ndcg10"])


def optimum_location(
    rows: pd.DataFrame, n_boot: int, rng: np.random.Generator
) -> tuple[list[float], float]:
    """Bootstrap 95 % CI of where one level's optimum sits on the intelligence axis.

    Args:
        rows: the jobs of one completeness level (``label``, ``intelligence``, ``test_ndcg10``).
        n_boot: resamples; in each, every label's seeds are drawn with replacement.
        rng: random generator.

    Returns:
        ``([lo, hi], share)``: the 2.5-97.5 percentile range of the best label's mean
        intelligence over resamples (NaN when no label has two seeds: no spread to resample),
        and the share of resamples whose best label is the observed one.
    """
    # zelo's own resampling, not scipy.stats.bootstrap: a label may have a single seed (scipy
    # needs two observations per sample), x and y are drawn together within a label, and the
    # share of resamples that keep the observed best label is reported beside the CI
    groups = [g for _, g in rows.groupby("label", sort=True)]
    ys = [g["test_ndcg10"].to_numpy(float) for g in groups]
    xs = [g["intelligence"].to_numpy(float) for g in groups]
    best = int(np.argmax([y.mean() for y in ys]))
    if max(len(y) for y in ys) < 2:
        return [math.nan, math.nan], math.nan
    located, same = [], 0
    for _ in range(n_boot):
        draws = [rng.integers(0, len(y), len(y)) for y in ys]
        means = [y[d].mean() for y, d in zip(ys, draws, strict=True)]
        winner = int(np.argmax(means))
        same += winner == best
        located.append(float(xs[winner][draws[winner]].mean()))
    return [float(v) for v in np.percentile(located, CI_LEVELS)], same / n_boot


def level_optima(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """The optimum of each (loss, completeness level), sparsest level first within a loss.

    Args:
        df: the surface's jobs (:func:`surface_points`).
        n_boot: bootstrap resamples per level.
        seed: seed of the bootstrap's generator.

    Returns:
        Records: ``loss``, ``keep_positives`` (``inf`` = all), ``completeness`` (text),
        ``optimum_label``, ``optimum_control`` (its ``run/control``: a CONTROL when set),
        ``optimum_intelligence``, ``optimum_mean``, ``optimum_se``,
        ``n_seeds``, ``ci`` (of the location), ``share_same_label``, ``n_boot``.
    """
    rng = np.random.default_rng(seed)
    summary = summarise(df)
    out = []
    for (loss, keep), rows in df.groupby(["loss", "keep_positives"], sort=True):
        cells = summary[(summary["loss"] == loss) & (summary["keep_positives"] == keep)]
        best = cells.loc[cells["test_ndcg10_mean"].idxmax()]
        ci, share = optimum_location(rows, n_boot, rng)
        out.append(
            {
                "loss": str(loss),
                "keep_positives": float(keep),
                "completeness": keep_text(keep),
                "optimum_label": str(best["label"]),
                "optimum_control": control_text(best.get("control")),
                "optimum_intelligence": float(best["intelligence_mean"]),
                "optimum_mean": float(best["test_ndcg10_mean"]),
                "optimum_se": float(best["test_ndcg10_se"]),
                "n_seeds": int(best["n_seeds"]),
                "ci": ci,
                "share_same_label": share,
                "n_boot": n_boot,
            }
        )
    return out


CLAIM = "the optimum moves to lower intelligence as annotation gets sparser"


def completeness_claim(optima: list[dict[str, Any]]) -> dict[str, Any]:
    """Test "the optimum moves to lower intelligence as annotation gets sparser" on one loss.

    The sparsest and the fullest level are compared: *supported* when the sparsest optimum's CI
    lies wholly below the fullest's, *opposite* when wholly above, *not supported* when the CIs
    overlap, *undetermined* with fewer than two levels or without CIs (single seeds).

    Args:
        optima: :func:`level_optima`'s records of one loss, sparsest first.

    Returns:
        ``verdict`` (one of the four words above), ``monotone`` (optimum locations
        non-decreasing from sparsest to fullest, None below two levels) and ``statement``.
    """
    if len(optima) < 2:
        head = f"Undetermined: testing whether {CLAIM} needs two completeness levels or more"
        return {"verdict": "undetermined", "monotone": None, "statement": f"{head}."}
    locations = [o["optimum_intelligence"] for o in optima]
    monotone = bool(np.all(np.diff(locations) >= 0))
    verdict, head = _claim_head(optima[0]["ci"], optima[-1]["ci"])
    where = "; ".join(
        f"keep={o['completeness']}: {o['optimum_label']} at intelligence "
        f"{o['optimum_intelligence']:.3f} (95% CI {o['ci'][0]:.3f} to {o['ci'][1]:.3f})"
        for o in optima
    )
    order = "" if monotone else " The optima are not in order across the levels."
    return {
        "verdict": verdict,
        "monotone": monotone,
        "statement": f"{head} (claim: {CLAIM}). Optima, sparsest first: {where}.{order}",
    }


def _claim_head(sparse: list[float], full: list[float]) -> tuple[str, str]:
    """The verdict word and its sentence from the CIs of the sparsest and fullest optima."""
    if any(math.isnan(v) for v in (*sparse, *full)):
        return "undetermined", "Undetermined: a single seed per point gives no CI"
    if sparse[1] < full[0]:
        return "supported", "Supported: the sparsest level's optimum CI lies below the fullest's"
    if sparse[0] > full[1]:
        return "opposite", (
            "Not supported, the opposite holds: the sparsest level's optimum CI lies above the "
            "fullest's"
        )
    return "not supported", (
        "Not supported: the optimum CIs of the sparsest and the fullest level overlap"
    )


def analyse_surface(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The surface of each loss: cells, optima per level and the claim; {} without two levels.

    Returns:
        ``{loss: {"cells": [...], "optima": [...], "claim": {...}}}``; a cell is one
        (completeness, label) point of :func:`zelo.analysis.laffer.summarise`.
    """
    points = surface_points(df) if "keep_positives" in df.columns else df.iloc[:0]
    if not is_surface(points):
        return {}
    summary = summarise(points)
    optima = level_optima(points, n_boot=n_boot, seed=seed)
    out: dict[str, Any] = {}
    for loss in sorted(summary["loss"].astype(str).unique()):
        cells = summary[summary["loss"].astype(str) == loss]
        mine = [o for o in optima if o["loss"] == loss]
        out[loss] = {
            "cells": cells.to_dict(orient="records"),
            "optima": mine,
            "claim": completeness_claim(mine),
        }
    return out
