"""Markdown tables of the results page, from laffer.json's records (pure functions)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zelo.analysis.kinds import (
    CONTROL_TAG,
    curve_names,
    curve_point_numbers,
    keep_text,
    point_keys,
    point_tag,
)
from zelo.analysis.plots import surface_matrix


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table; ``|`` in a cell is escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def num(value: Any, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals; ``–`` when missing or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def word(value: Any) -> str:
    """A text cell; ``–`` when missing (None or NaN)."""
    return value if isinstance(value, str) else "–"


def pm(mean: Any, se: Any, digits: int = 4) -> str:
    """``mean ± se``; ``mean (1 seed)`` without a standard error."""
    if num(mean) == "–":
        return "–"
    if num(se) == "–":
        return f"{num(mean, digits)} (1 seed)"
    return f"{num(mean, digits)} ± {num(se, digits)}"


def kind_text(row: dict[str, Any]) -> str:
    """What a point is, in words: ``FN-free twin, CONTROL``, ``CONTROL``, ``UPPER BOUND``,
    ``adaptive``, or empty for a fixed miner a user can run."""
    tag = point_tag(row)
    if row.get("twin"):
        return f"FN-free twin, {CONTROL_TAG}"
    if tag:
        return tag
    return "adaptive" if row.get("adaptive") in (True, 1.0) else ""


def short(value: Any) -> bool:
    """A shortfall worth a column: more than zero queries left short (mean over seeds)."""
    return (
        value is not None and isinstance(value, (int, float)) and math.isfinite(value) and value > 0
    )


def points_table(report: dict[str, Any]) -> str:
    """Every point of the sweep, numbered as on the figure (a number per curve and point).

    A point that repeats another seed for seed says so in its kind; a column of training queries
    left with fewer than N negatives appears when any point has one.
    """
    summary = pd.DataFrame(report["summary"])
    if summary.empty:
        return "No finished job."
    numbers = curve_point_numbers(summary)
    keys = point_keys(summary)
    curves = curve_names(summary)
    several = curves.nunique() > 1
    shortfall = "num_short_mean" in summary and any(map(short, summary["num_short_mean"]))
    header = ["#", *(["curve"] if several else []), "point", "kind", "n", "intelligence"]
    header += ["FN rate", "TN hardness", *(["queries short"] if shortfall else []), "test nDCG@10"]
    rows = []
    for (_, row), curve, key in zip(summary.iterrows(), curves, keys, strict=True):
        r = row.to_dict()
        kind = kind_text(r)
        same = r.get("same_as")
        if isinstance(same, str):
            kind += f"; = #{numbers[(key[0], same)]} seed for seed"
        cells = [str(numbers[key]), *([curve] if several else []), str(r["label"])]
        cells += [kind, str(r["n_seeds"]), pm(r["intelligence_mean"], r["intelligence_se"], 3)]
        cells += [num(r.get("fn_rate_mean"), 3), num(r.get("tn_hardness_mean"), 3)]
        cells += [num(r.get("num_short_mean"), 1)] if shortfall else []
        rows.append([*cells, pm(r["test_ndcg10_mean"], r["test_ndcg10_se"])])
    return markdown_table(header, rows)


def decomposition_table(records: list[dict[str, Any]]) -> str:
    """Per miner with a twin: intelligence, FN rate, hardness, raw, twin, the FN-free random,
    hardness benefit, FN damage and the net effect against raw random negatives.

    A baseline that is not FN-free (the sweep ran no twin of its random point) is marked
    ``(raw)``; a column of queries left short (raw / twin) appears when any point has one."""
    several = len({r["curve"] for r in records}) > 1
    shortfall = any(short(r.get("num_short")) or short(r.get("twin_num_short")) for r in records)
    header = [*(["curve"] if several else []), "miner", "intelligence", "FN rate"]
    header += ["TN hardness raw / twin", "raw", "twin (CONTROL)", "FN-free random (CONTROL)"]
    header += ["hardness benefit", "FN damage", "net vs raw random"]
    header += [*(["queries short raw / twin"] if shortfall else []), "SE (benefit / damage / net)"]
    rows = []
    for r in records:
        hardness = f"{num(r['tn_hardness'], 3)} / {num(r['twin_tn_hardness'], 3)}"
        random = pm(r["random_mean"], r["random_se"])
        if r.get("baseline_fn_free") is False:
            random += " (raw)"
        cells = [*([r["curve"]] if several else []), r["label"], num(r["intelligence"], 3)]
        cells += [num(r["fn_rate"], 3), hardness, pm(r["raw_mean"], r["raw_se"])]
        cells += [pm(r["twin_mean"], r["twin_se"]), random]
        cells += [pm(r["hardness_benefit"], r["hardness_benefit_se"])]
        cells += [pm(r["fn_damage"], r["fn_damage_se"])]
        cells += [pm(r.get("net_effect"), r.get("net_effect_se"))]
        if shortfall:
            cells.append(f"{num(r.get('num_short'), 1)} / {num(r.get('twin_num_short'), 1)}")
        methods = (r["benefit_se_method"], r["damage_se_method"], r.get("net_se_method"))
        cells.append(" / ".join(map(word, methods)))
        rows.append(cells)
    return markdown_table(header, rows)


def repeats_note(records: list[dict[str, Any]]) -> str:
    """A sentence naming the twins that repeat a lower-intelligence twin seed for seed."""
    several = len({r["curve"] for r in records}) > 1
    by_kept: dict[str, list[str]] = {}
    for r in records:
        if isinstance(r.get("twin_same_as"), str):
            kept = r["twin_same_as"] + (f" ({r['curve']})" if several else "")
            by_kept.setdefault(kept, []).append(f"{r['label']}")
    if not by_kept:
        return ""
    parts = [
        f"the twins of {', '.join(labels)} repeat {kept} seed for seed"
        for kept, labels in by_kept.items()
    ]
    return (
        f"Above the base scorer's point the dial's top segment only moves judged documents, which "
        f"the twin drops: {'; '.join(parts)} (the same negatives, bit-identical results). Their "
        "rows are one measurement, fitted once."
    )


def optima_table(record: dict[str, Any]) -> str:
    """Per completeness level: the optimum, where it sits, its CI and how often it wins."""
    header = ["labelled positives", "optimum", "intelligence", "95% CI of the location"]
    header += ["test nDCG@10", "resamples it wins"]
    rows = [
        [
            o["completeness"],
            o["optimum_label"],
            num(o["optimum_intelligence"], 3),
            f"{num(o['ci'][0], 3)} to {num(o['ci'][1], 3)}",
            pm(o["optimum_mean"], o["optimum_se"]),
            num(o["share_same_label"], 2),
        ]
        for o in record["optima"]
    ]
    return markdown_table(header, rows)


def surface_matrix_table(record: dict[str, Any]) -> str:
    """The heat map's numbers: completeness (rows, sparsest first) x point (by intelligence)."""
    cells = pd.DataFrame(record["cells"])
    means = surface_matrix(cells)
    ses = surface_matrix(cells, "test_ndcg10_se")
    header = ["labelled positives", *map(str, means.columns)]
    rows = [
        [keep_text(keep), *(pm(means.loc[keep, c], ses.loc[keep, c]) for c in means.columns)]
        for keep in means.index
    ]
    return markdown_table(header, rows)


def adaptive_table(records: list[dict[str, Any]]) -> str:
    """The practical adaptive miner against the best fixed miner; the UPPER BOUND apart."""
    header = ["curve", "best fixed miner", "adaptive", "adaptive − best"]
    header += ["UPPER BOUND (reads training judgments)", "upper bound − best"]
    rows = []
    for r in records:
        best = f"{r['best_fixed_label']} {pm(r['best_fixed_mean'], r['best_fixed_se'])}"
        ada = f"{r['adaptive_label']} {pm(r['adaptive_mean'], r['adaptive_se'])}"
        bound = f"{r['upper_bound_label']} {pm(r['upper_bound_mean'], r['upper_bound_se'])}"
        rows.append(
            [
                r["curve"],
                best,
                ada if r["adaptive_label"] else "–",
                pm(r["difference"], r["difference_se"]),
                bound if r["upper_bound_label"] else "–",
                pm(r["upper_bound_difference"], r["upper_bound_difference_se"]),
            ]
        )
    return markdown_table(header, rows)
