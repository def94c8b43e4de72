"""Markdown tables of the results page, from laffer.json's records (pure functions)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zelo.analysis.kinds import CONTROL_TAG, curve_names, keep_text, point_numbers, point_tag
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


def points_table(report: dict[str, Any]) -> str:
    """Every point of the sweep, numbered as on the figure."""
    summary = pd.DataFrame(report["summary"])
    if summary.empty:
        return "No finished job."
    numbers = point_numbers(summary["label"])
    curves = curve_names(summary)
    several = curves.nunique() > 1
    header = ["#", *(["curve"] if several else []), "point", "kind", "n", "intelligence"]
    header += ["FN rate", "TN hardness", "test nDCG@10"]
    rows = []
    for (_, row), curve in zip(summary.iterrows(), curves, strict=True):
        r = row.to_dict()
        cells = [str(numbers[r["label"]]), *([curve] if several else []), str(r["label"])]
        cells += [
            kind_text(r),
            str(r["n_seeds"]),
            pm(r["intelligence_mean"], r["intelligence_se"], 3),
        ]
        cells += [num(r.get("fn_rate_mean"), 3), num(r.get("tn_hardness_mean"), 3)]
        rows.append([*cells, pm(r["test_ndcg10_mean"], r["test_ndcg10_se"])])
    return markdown_table(header, rows)


def decomposition_table(records: list[dict[str, Any]]) -> str:
    """Per miner with a twin: intelligence, FN rate, hardness, raw, twin, benefit and damage."""
    several = len({r["curve"] for r in records}) > 1
    header = [*(["curve"] if several else []), "miner", "intelligence", "FN rate"]
    header += ["TN hardness raw / twin", "raw", "twin (CONTROL)", "random", "hardness benefit"]
    header += ["FN damage", "SE (benefit / damage)"]
    rows = []
    for r in records:
        hardness = f"{num(r['tn_hardness'], 3)} / {num(r['twin_tn_hardness'], 3)}"
        cells = [*([r["curve"]] if several else []), r["label"], num(r["intelligence"], 3)]
        cells += [num(r["fn_rate"], 3), hardness, pm(r["raw_mean"], r["raw_se"])]
        cells += [pm(r["twin_mean"], r["twin_se"]), pm(r["random_mean"], r["random_se"])]
        cells += [pm(r["hardness_benefit"], r["hardness_benefit_se"])]
        cells += [pm(r["fn_damage"], r["fn_damage_se"])]
        cells.append(f"{word(r['benefit_se_method'])} / {word(r['damage_se_method'])}")
        rows.append(cells)
    return markdown_table(header, rows)


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
