"""The Laffer curve of hard-negative mining: student quality against measured miner intelligence.

Pure functions on the results table of :func:`zelo.analysis.results.collect_results`.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from zelo.analysis.kinds import add_flags

log = logging.getLogger(__name__)

SUMMARY_METRICS = (
    "test_ndcg10",
    "intelligence",
    "fn_rate",
    "tn_hardness",
    "test_ndcg10_before",
    "num_short",
)
GROUP_KEYS = ("loss", "keep_positives", "label")
# what the student scored: two points whose jobs agree on all of these, seed for seed, trained on
# the same negatives (the FN-free twin above the dial's base scorer: the top segment only moves
# judged documents, which the twin drops)
RESULT_COLUMNS = (
    "test_ndcg10",
    "val_ndcg10",
    "test_recall100",
    "test_mrr10",
    "test_ndcg10_binary",
    "test_ndcg10_top",
)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds of each point (label, per loss and completeness).

    Args:
        df: the results table (one row per job).

    Returns:
        One row per (loss, keep_positives, label), the keys present in ``df``: ``miner``, the
        run's ``adaptive`` and ``control`` records, the flags ``twin``, ``control_flag`` and
        ``upper_bound`` (:mod:`zelo.analysis.kinds`), ``n_seeds``, and ``<metric>_mean`` /
        ``<metric>_se`` for test nDCG@10, intelligence, FN rate, true-negative hardness and
        zero-shot nDCG@10. The standard error is ``std(ddof=1) / sqrt(n)``, NaN for a single
        seed. Sorted by loss, completeness, intelligence.
    """
    keys = [k for k in GROUP_KEYS if k in df.columns]
    metrics = [m for m in SUMMARY_METRICS if m in df.columns]
    flags = [c for c in ("adaptive", "control") if c in df.columns]
    columns = [*keys, "miner", *flags, "twin", "control_flag", "upper_bound", "n_seeds"]
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "se")]
    if df.empty:
        return pd.DataFrame(columns=columns)
    values = df[keys].copy()
    for m in metrics:
        values[m] = pd.to_numeric(df[m], errors="coerce")
    grouped = values.groupby(keys, dropna=False, sort=True)
    first = df.groupby(keys, dropna=False)
    out = pd.DataFrame({c: first[c].first() for c in ("miner", *flags)})
    out["n_seeds"] = grouped.size()
    for m in metrics:
        out[f"{m}_mean"] = grouped[m].mean()
        out[f"{m}_se"] = grouped[m].sem()
    out = add_flags(out.reset_index())
    order = [k for k in ("loss", "keep_positives", "intelligence_mean", "label") if k in out]
    return out.sort_values(order, kind="mergesort").reset_index(drop=True)[columns]


def identical_points(df: pd.DataFrame) -> dict[str, str]:
    """Points that repeat a lower-intelligence point of the same table bit for bit, seed by seed.

    Two labels are identical when they ran the same seeds and every student result of
    :data:`RESULT_COLUMNS` present is exactly equal, seed by seed. They are one measurement at
    several places on the x-axis, not independent points: fits and verdicts keep the
    lowest-intelligence one (where the repeated result first appears).

    Args:
        df: the results table of one curve (``label``, ``seed``, ``intelligence`` and results).

    Returns:
        ``{label: the label it repeats}`` (empty when every point is distinct).
    """
    columns = [c for c in RESULT_COLUMNS if c in df.columns]
    if df.empty or not columns or "seed" not in df.columns:
        return {}
    order = df.groupby("label")["intelligence"].mean().sort_values(kind="mergesort")
    seen: dict[tuple, str] = {}
    out: dict[str, str] = {}
    for label in order.index:
        rows = df[df["label"] == label].sort_values("seed", kind="mergesort")
        values = rows[columns].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        if not np.isfinite(rows[columns[0]].to_numpy(float)).all():
            continue
        key = (tuple(rows["seed"].tolist()), values.tobytes())  # exact: the same bytes
        if key in seen:
            out[str(label)] = seen[key]
        else:
            seen[key] = str(label)
    return out


def distinct_points(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``df`` without the points that repeat another (:func:`identical_points`), and that map."""
    repeats = identical_points(df)
    if not repeats:
        return df, repeats
    return df[~df["label"].astype(str).isin(repeats)], repeats


def fit_laffer(
    df: pd.DataFrame,
    n_boot: int = 1000,
    seed: int = 0,
    degree: int = 2,
    unit: str = "seed",
) -> dict[str, Any]:
    """Fit test nDCG@10 against measured intelligence; locate and bootstrap the optimum.

    A quadratic fitted by least squares to the per-job points is the smallest model that can
    show an interior maximum and still be monotone over the observed range; a sweep has few
    points (5-10 labels), too few to pin down a more flexible curve. The optimum is the argmax of
    the fitted curve within the observed intelligence range (an end when the fit is monotone
    there). Its 95 % CI is the 2.5-97.5 percentile range of the optima refitted on resamples
    drawn with replacement (by default the seeds of each label).

    Args:
        df: the results table of one loss (columns ``label``, ``intelligence``, ``test_ndcg10``).
        n_boot: bootstrap resamples.
        seed: seed of the bootstrap's random generator.
        degree: polynomial degree, lowered to ``places - 1`` when the labels sit at fewer
            distinct intelligences (rounded to 0.001): the seeds of one label, or labels sharing a
            scorer (top-k and PercPos on MiniLM), do not add a distinct point to the curve.
        unit: what a resample draws (see :func:`bootstrap_optima`); ``seed`` by default.

    Points that repeat a lower-intelligence point seed for seed (:func:`identical_points`)
    count once: ``repeats`` names them and the statement says so.

    Returns:
        ``coefficients`` (ascending powers), ``degree``, ``x_range``, ``interior`` (the verdict
        finds an interior maximum *and* the fit peaks strictly inside the range), ``optimum``,
        ``optimum_ndcg10`` and ``ci`` (its 95 % CI; ``None``/NaN unless ``interior``),
        ``fit_argmax`` and ``fit_argmax_ci`` (where the fitted polynomial peaks, whatever the
        verdict: a description of the fit, never an optimum), ``n_boot`` (usable resamples),
        ``bootstrap_unit``, ``n_points``, ``n_labels`` (distinct points), ``repeats``, and the
        verdict of :func:`peak_verdict`.
    """
    data, repeats = distinct_points(df.dropna(subset=["intelligence", "test_ndcg10"]))
    x = data["intelligence"].to_numpy(float)
    y = data["test_ndcg10"].to_numpy(float)
    out: dict[str, Any] = {"n_points": len(data), "n_labels": int(data["label"].nunique())}
    out["repeats"] = repeats
    out.update(peak_verdict(summarise(data)))
    if repeats:
        out["statement"] += " " + describe_repeats(repeats)
    if out["n_labels"] < 2 or len(np.unique(x)) < 2:
        return {
            **out,
            "fitted": False,
            "reason": "fewer than 2 labels with a measured intelligence",
        }
    # distinct places on the axis: labels sharing a scorer (topk, percpos) sit at one x
    places = data.groupby("label")["intelligence"].mean().round(3).nunique()
    out["n_places"] = int(places)
    if places < 2:
        return {**out, "fitted": False, "reason": "all labels at one intelligence"}
    deg = min(degree, places - 1)
    lo, hi = float(x.min()), float(x.max())
    coef = _polyfit(x, y, deg)
    argmax = argmax_in_range(coef, lo, hi)
    boot = bootstrap_optima(data, deg, (lo, hi), n_boot, np.random.default_rng(seed), unit)
    ci = [float(v) for v in np.percentile(boot, [2.5, 97.5])] if len(boot) else [math.nan] * 2
    # an optimum only where the verdict finds an interior maximum and the fit peaks inside
    interior = bool(out["peak_beats_both_ends"] and lo < argmax < hi)
    return {
        **out,
        "fitted": True,
        "degree": deg,
        "coefficients": [float(c) for c in coef],
        "x_range": [lo, hi],
        "optimum": argmax if interior else None,
        "optimum_ndcg10": float(np.polynomial.polynomial.polyval(argmax, coef))
        if interior
        else None,
        "interior": interior,
        "ci": ci if interior else [math.nan, math.nan],
        # the fitted polynomial's argmax and its bootstrap CI, whatever the verdict: a
        # description of the fit, not an optimum (an end when the fit is monotone there)
        "fit_argmax": argmax,
        "fit_argmax_ci": ci,
        "n_boot": len(boot),
        "bootstrap_unit": unit,
    }


def describe_repeats(repeats: dict[str, str]) -> str:
    """One sentence naming the points that repeat another seed for seed (fitted once)."""
    by_kept: dict[str, list[str]] = {}
    for label, kept in repeats.items():
        by_kept.setdefault(kept, []).append(label)
    parts = [f"{', '.join(sorted(labels))} repeat {kept}" for kept, labels in by_kept.items()]
    return (
        f"{'; '.join(parts)} seed for seed (bit-identical results: the same negatives), so "
        "they count once, at the lowest intelligence."
    )


def argmax_in_range(coef: np.ndarray, lo: float, hi: float) -> float:
    """Where the polynomial (ascending ``coef``) peaks on ``[lo, hi]``: a stationary point or an end."""
    candidates = [lo, hi]
    if len(coef) > 2:
        roots = np.polynomial.polynomial.polyroots(np.polynomial.polynomial.polyder(coef))
        candidates += [float(r.real) for r in np.atleast_1d(roots) if abs(r.imag) < 1e-12]
    candidates = [c for c in candidates if lo <= c <= hi]
    values = np.polynomial.polynomial.polyval(np.array(candidates), coef)
    return float(candidates[int(np.argmax(values))])


def bootstrap_optima(
    data: pd.DataFrame,
    degree: int,
    x_range: tuple[float, float],
    n_boot: int,
    rng: np.random.Generator,
    unit: str = "seed",
) -> np.ndarray:
    """Optimum locations refitted on ``n_boot`` resamples (degenerate resamples are dropped).

    Args:
        data: per-job points (``label``, ``intelligence``, ``test_ndcg10``), no NaN.
        degree: polynomial degree of every refit.
        x_range: the observed intelligence range the argmax is searched in.
        n_boot: resamples to draw.
        rng: random generator.
        unit: ``seed`` resamples the seeds of each label (the miners are the experiment's fixed
            design; what varies between reruns is the seed), ``label`` resamples labels with all
            their seeds (miners as draws from a population; needs many labels), ``point``
            resamples jobs. With one seed per label, ``seed`` gives a zero-width interval.
    """
    if unit not in ("seed", "label", "point"):
        raise ValueError(f"unit must be 'seed', 'label' or 'point', not {unit!r}")
    x = data["intelligence"].to_numpy(float)
    y = data["test_ndcg10"].to_numpy(float)
    labels = data["label"].to_numpy()
    groups = [np.flatnonzero(labels == g) for g in pd.unique(labels)]
    optima = []
    for _ in range(n_boot):
        if unit == "seed":
            idx = np.concatenate([rng.choice(g, len(g)) for g in groups])
        elif unit == "point":
            idx = rng.integers(0, len(data), len(data))
        else:
            idx = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        if len(np.unique(labels[idx])) <= degree:
            continue
        optima.append(argmax_in_range(_polyfit(x[idx], y[idx], degree), *x_range))
    return np.asarray(optima, dtype=float)


def peak_verdict(summary: pd.DataFrame, n_se: float = 2.0) -> dict[str, Any]:
    """Does the best point beat both ends of the intelligence range by more than ``n_se`` SE?

    The peak is the label with the best mean test nDCG@10; the ends are the labels with the lowest
    and highest mean intelligence. The peak beats an end when
    ``peak - end > n_se * sqrt(se_peak**2 + se_end**2)``.

    Args:
        summary: the per-label table of :func:`summarise` (one loss).
        n_se: how many standard errors of the difference the peak must clear.

    Returns:
        ``peak_label``, ``low_label``, ``high_label``, ``beats_low``, ``beats_high``,
        ``peak_beats_both_ends``, ``margin_low``/``margin_high`` (peak minus end),
        ``threshold_low``/``threshold_high`` (``n_se`` SE of the difference), ``statement``.
    """
    s = summary.dropna(subset=["intelligence_mean", "test_ndcg10_mean"])
    if s.empty:
        return {"peak_beats_both_ends": False, "statement": "No finished job to judge."}
    peak = s.loc[s["test_ndcg10_mean"].idxmax()]
    ends = {
        "low": s.loc[s["intelligence_mean"].idxmin()],
        "high": s.loc[s["intelligence_mean"].idxmax()],
    }
    out: dict[str, Any] = {"peak_label": peak["label"]}
    for side, end in ends.items():
        margin = float(peak["test_ndcg10_mean"] - end["test_ndcg10_mean"])
        threshold = n_se * math.sqrt(peak["test_ndcg10_se"] ** 2 + end["test_ndcg10_se"] ** 2)
        out[f"{side}_label"] = end["label"]
        out[f"margin_{side}"] = margin
        out[f"threshold_{side}"] = threshold
        out[f"beats_{side}"] = bool(margin > threshold)  # False when a SE is NaN
    out["peak_beats_both_ends"] = out["beats_low"] and out["beats_high"]
    out["statement"] = _statement(out, peak, n_se)
    return out


def _statement(v: dict[str, Any], peak: pd.Series, n_se: float) -> str:
    best = (
        f"the best point, {v['peak_label']} (intelligence {peak['intelligence_mean']:.3f}, "
        f"test nDCG@10 {peak['test_ndcg10_mean']:.4f} ± {peak['test_ndcg10_se']:.4f} SE)"
    )
    for side, word in (("low", "lowest"), ("high", "highest")):
        if v["peak_label"] == v[f"{side}_label"]:
            return f"No interior maximum: {best} is the {word}-intelligence point."
    gaps = (
        f"{v['low_label']} (lowest intelligence) by {v['margin_low']:.4f} "
        f"({n_se:g} SE = {v['threshold_low']:.4f}) and {v['high_label']} (highest) by "
        f"{v['margin_high']:.4f} ({n_se:g} SE = {v['threshold_high']:.4f})"
    )
    if math.isnan(v["threshold_low"]) or math.isnan(v["threshold_high"]):
        return f"Undetermined: {best} leads {gaps}, but a single seed gives no standard error."
    if v["peak_beats_both_ends"]:
        return f"Interior maximum: {best} beats {gaps}, both by more than {n_se:g} SE."
    shape = ""
    if v["beats_low"]:  # rises by more than n SE, then no significant fall
        shape = " The curve rises (a left side) and then levels off: no right side."
    elif v["beats_high"]:
        shape = " The curve falls on the right; its rise from the left end is not significant."
    return (
        f"No significant interior maximum: {best} leads {gaps}; not both by more than "
        f"{n_se:g} SE.{shape}"
    )


def _polyfit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        return np.polynomial.polynomial.polyfit(x, y, degree)
