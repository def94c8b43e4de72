"""Loss-against-loss and adaptive-against-fixed comparisons of a sweep's summary table.

Both work on :func:`zelo.analysis.laffer.summarise`'s table (one row per loss and point, mean and
standard error over seeds) and return plain records for ``laffer.json``. Seeds of different
points are independent runs, so the standard error of a difference is ``sqrt(se_a² + se_b²)``
(NaN when either point has a single seed).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zelo.analysis.kinds import add_flags, curve_names, is_twin
from zelo.analysis.results import is_adaptive

BASELINE_LOSS = "infonce"


def diff_se(se_a: float, se_b: float) -> float:
    """Standard error of the difference of two independent means."""
    return math.sqrt(se_a**2 + se_b**2)


def _point(row: pd.Series) -> dict[str, Any]:
    return {
        "label": str(row["label"]),
        "intelligence": float(row["intelligence_mean"]),
        "mean": float(row["test_ndcg10_mean"]),
        "se": float(row["test_ndcg10_se"]),
        "n_seeds": int(row["n_seeds"]),
    }


def high_end_labels(base: pd.DataFrame, n_high: int = 2) -> list[str]:
    """The ``n_high`` points of highest mean intelligence (the right side of the curve)."""
    top = base.dropna(subset=["intelligence_mean"]).nlargest(n_high, "intelligence_mean")
    return [str(v) for v in top["label"]]


def right_side_recovery(
    summary: pd.DataFrame, baseline: str = BASELINE_LOSS, n_high: int = 2
) -> list[dict[str, Any]]:
    """How much of the baseline's right-side drop each other loss removes, at its most
    intelligent miners.

    With ``b(m)`` the baseline's mean test nDCG@10 at point ``m``, ``b*`` its best fixed point and
    ``l(m)`` another loss's: the drop is ``b* - b(m)``, the gain ``l(m) - b(m)`` (± the SE of a
    difference), and the share removed ``gain / drop`` (NaN when the baseline does not drop).
    A share of 1 means the loss brings the most intelligent miner up to the baseline's best;
    above 1, beyond it.

    Args:
        summary: :func:`~zelo.analysis.laffer.summarise`'s table, with a ``loss`` column.
        baseline: the loss the others are compared with.
        n_high: how many of the baseline's highest-intelligence fixed points count as the
            right side.

    Returns:
        One record per (loss, high point), losses in table order; empty without the baseline.
    """
    if "loss" not in summary.columns or summary.empty:
        return []
    fixed = summary[~is_adaptive(summary) & ~is_twin(summary)].dropna(subset=["test_ndcg10_mean"])
    base = fixed[fixed["loss"] == baseline]
    if base.empty:
        return []
    best = _point(base.loc[base["test_ndcg10_mean"].idxmax()])
    by_label = {str(r["label"]): r for _, r in base.iterrows()}
    high = high_end_labels(base, n_high)
    out = []
    for loss in dict.fromkeys(fixed["loss"]):
        if loss == baseline:
            continue
        rows = fixed[fixed["loss"] == loss]
        for label in high:
            match = rows[rows["label"].astype(str) == label]
            if match.empty:
                continue
            point, ref = _point(match.iloc[0]), _point(by_label[label])
            gain = point["mean"] - ref["mean"]
            drop = best["mean"] - ref["mean"]
            out.append(
                {
                    "loss": str(loss),
                    "label": label,
                    "intelligence": ref["intelligence"],
                    "test_ndcg10_mean": point["mean"],
                    "test_ndcg10_se": point["se"],
                    "baseline": baseline,
                    "baseline_mean": ref["mean"],
                    "baseline_se": ref["se"],
                    "baseline_best_label": best["label"],
                    "baseline_best_mean": best["mean"],
                    "baseline_drop": drop,
                    "gain": gain,
                    "gain_se": diff_se(point["se"], ref["se"]),
                    "share_removed": gain / drop if drop > 0 else math.nan,
                }
            )
    return out


def adaptive_vs_best_fixed(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Each curve's practical adaptive miner against its best fixed miner a user can run.

    The best fixed miner is the non-control, non-adaptive point with the best mean test
    nDCG@10, picked on the same test figures, which favours it: a positive difference is
    conservative. An adaptive miner that reads the full judgments (``adaptive_oracle``) is an
    upper bound: it is reported beside the comparison (``upper_bound_*``), never as the method.

    Returns:
        One record per curve with a fixed non-control point and an adaptive point of either
        kind: ``loss``, ``curve``, ``best_fixed_*``, ``adaptive_*`` with ``difference`` and
        ``difference_se`` (``adaptive - best``), and ``upper_bound_*`` with
        ``upper_bound_difference`` and its SE; a side that is absent has ``None`` fields.
    """
    if summary.empty:
        return []
    flags = add_flags(summary)
    curves = curve_names(summary) if "loss" in summary.columns else pd.Series("all", flags.index)
    adaptive = is_adaptive(summary)
    out = []
    for curve in dict.fromkeys(curves):
        rows = flags[curves == curve].dropna(subset=["test_ndcg10_mean"])
        moving = adaptive[rows.index]
        fixed = rows[~moving & ~rows["control_flag"]]
        practical = rows[moving & ~rows["control_flag"] & ~rows["upper_bound"]]
        bound = rows[moving & rows["upper_bound"]]
        if fixed.empty or (practical.empty and bound.empty):
            continue
        best = _point(fixed.loc[fixed["test_ndcg10_mean"].idxmax()])
        record = {
            "loss": str(rows["loss"].iloc[0]) if "loss" in rows else str(curve),
            "curve": str(curve),
            "best_fixed_label": best["label"],
            "best_fixed_mean": best["mean"],
            "best_fixed_se": best["se"],
            "best_fixed_control": False,
        }
        record.update(_against(practical, best, "adaptive", "difference"))
        record.update(_against(bound, best, "upper_bound", "upper_bound_difference"))
        out.append(record)
    return out


def _against(rows: pd.DataFrame, best: dict[str, Any], prefix: str, diff: str) -> dict[str, Any]:
    """``<prefix>_label/_mean/_se/_intelligence``, ``<diff>`` and ``<diff>_se`` against ``best``
    for the first of ``rows`` (``None`` fields when there is none)."""
    keys = (f"{prefix}_label", f"{prefix}_mean", f"{prefix}_se", f"{prefix}_intelligence")
    if rows.empty:
        return dict.fromkeys((*keys, diff, f"{diff}_se"))
    p = _point(rows.iloc[0])
    values = (p["label"], p["mean"], p["se"], p["intelligence"])
    return {
        **dict(zip(keys, values, strict=True)),
        diff: p["mean"] - best["mean"],
        f"{diff}_se": diff_se(p["se"], best["se"]),
    }


def describe_recovery(r: dict[str, Any]) -> str:
    """One line: ``distill at oracle100: 0.2600 ± 0.0030 vs infonce 0.2500 ± ...``."""
    return (
        f"{r['loss']} at {r['label']}: {r['test_ndcg10_mean']:.4f} ± {r['test_ndcg10_se']:.4f} vs "
        f"{r['baseline']} {r['baseline_mean']:.4f} ± {r['baseline_se']:.4f} "
        f"(gain {r['gain']:+.4f} ± {r['gain_se']:.4f}; {r['baseline']}'s drop from its best, "
        f"{r['baseline_best_label']}, is {r['baseline_drop']:.4f}; share removed "
        f"{r['share_removed']:.2f})"
    )


def describe_adaptive(r: dict[str, Any]) -> str:
    """One line: ``infonce: adaptive 0.27 ± 0.01 vs best fixed random 0.26 ± 0.01 (...)``, then
    the upper bound when there is one."""
    best = (
        f"best fixed {r['best_fixed_label']} {r['best_fixed_mean']:.4f} ± {r['best_fixed_se']:.4f}"
    )
    parts = []
    if r["adaptive_label"] is not None:
        parts.append(
            f"{r['adaptive_label']} {r['adaptive_mean']:.4f} ± {r['adaptive_se']:.4f} vs {best} "
            f"(difference {r['difference']:+.4f} ± {r['difference_se']:.4f})"
        )
    if r["upper_bound_label"] is not None:
        parts.append(
            f"UPPER BOUND (reads the training judgments) {r['upper_bound_label']} "
            f"{r['upper_bound_mean']:.4f} ± {r['upper_bound_se']:.4f} vs {best} (difference "
            f"{r['upper_bound_difference']:+.4f} ± {r['upper_bound_difference_se']:.4f})"
        )
    return f"{r['curve']}: " + "; ".join(parts)
