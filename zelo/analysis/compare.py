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
    fixed = summary[~is_adaptive(summary)].dropna(subset=["test_ndcg10_mean"])
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
    """Each loss's adaptive-miner point against its best fixed miner (by mean test nDCG@10).

    The best fixed miner is picked on the same test figures, which favours it: a positive
    difference is conservative.

    Returns:
        One record per loss with an adaptive point and at least one fixed point: both means and
        SEs, the difference ``adaptive - best`` and its SE.
    """
    if summary.empty:
        return []
    keys = summary["loss"] if "loss" in summary.columns else pd.Series("all", index=summary.index)
    adaptive = is_adaptive(summary)
    out = []
    for loss in dict.fromkeys(keys):
        rows = summary[(keys == loss)].dropna(subset=["test_ndcg10_mean"])
        ada, fixed = rows[adaptive[rows.index]], rows[~adaptive[rows.index]]
        if ada.empty or fixed.empty:
            continue
        a = _point(ada.iloc[0])
        b = _point(fixed.loc[fixed["test_ndcg10_mean"].idxmax()])
        out.append(
            {
                "loss": str(loss),
                "adaptive_label": a["label"],
                "adaptive_mean": a["mean"],
                "adaptive_se": a["se"],
                "adaptive_intelligence": a["intelligence"],
                "best_fixed_label": b["label"],
                "best_fixed_mean": b["mean"],
                "best_fixed_se": b["se"],
                "difference": a["mean"] - b["mean"],
                "difference_se": diff_se(a["se"], b["se"]),
            }
        )
    return out


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
    """One line: ``infonce: adaptive 0.27 ± 0.01 vs best fixed random 0.26 ± 0.01 (...)``."""
    return (
        f"{r['loss']}: adaptive {r['adaptive_mean']:.4f} ± {r['adaptive_se']:.4f} vs best fixed "
        f"{r['best_fixed_label']} {r['best_fixed_mean']:.4f} ± {r['best_fixed_se']:.4f} "
        f"(difference {r['difference']:+.4f} ± {r['difference_se']:.4f})"
    )
