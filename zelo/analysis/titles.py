"""What a figure or a table says it shows: the sweep, dataset, student and seeds; which points
repeat another.

Small pure functions on the results table, shared by the figures, the results page and the
notebook, so that every figure names what it is drawn from.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from zelo.analysis.kinds import curve_names
from zelo.analysis.laffer import identical_points
from zelo.analysis.results import is_adaptive


def values_text(df: pd.DataFrame, column: str) -> str:
    """The distinct values of ``column``, comma-separated (``?`` when absent or empty)."""
    if column not in df.columns:
        return "?"
    return ", ".join(sorted({str(v) for v in df[column].dropna()})) or "?"


def seeds_text(seeds: Any) -> str:
    """Seeds as ranges: ``0-4, 7-9``; ``?`` when none."""
    values = sorted({int(s) for s in pd.Series(seeds).dropna()})
    if not values:
        return "?"
    runs: list[list[int]] = []
    for s in values:
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def data_seeds_text(df: pd.DataFrame) -> str:
    """Whether the collection (and the drawn splits) varied with the run seed, in words."""
    parts = []
    for column, what in (("collection_seed", "collection"), ("split_seed", "drawn splits")):
        if column not in df.columns or df[column].dropna().empty:
            continue
        pairs = df[["seed", column]].dropna()
        if pairs[column].nunique() == 1:
            parts.append(f"{what} fixed (seed {int(pairs[column].iloc[0])})")
        elif (pairs["seed"].astype(int) == pairs[column].astype(int)).all():
            parts.append(f"{what} drawn with the run seed")
        else:
            parts.append(f"{what} seeds {seeds_text(pairs[column])}")
    return "; ".join(parts)


def figure_title(df: pd.DataFrame, sweep: str | None = None) -> str:
    """``sweep <name> · dataset <d> · student <m> · loss <l> · seeds 0-4 (collection drawn with
    the run seed)``: what every figure of a sweep says it shows."""
    parts = [f"sweep {sweep}"] if sweep else []
    parts += [f"dataset {values_text(df, 'dataset')}", f"student {values_text(df, 'model')}"]
    parts.append(f"loss {values_text(df, 'loss')}")
    seeds = f"seeds {seeds_text(df['seed']) if 'seed' in df else '?'}"
    data = data_seeds_text(df)
    parts.append(f"{seeds} ({data})" if data else seeds)
    return " · ".join(parts)


def point_repeats(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Per curve, the points that repeat a lower-intelligence point seed for seed
    (:func:`zelo.analysis.laffer.identical_points`): ``{(curve, label): label it repeats}``.
    Adaptive miners are left out."""
    if df.empty or "label" not in df.columns:
        return {}
    fixed = df[~is_adaptive(df)]
    curves = curve_names(fixed)
    out: dict[tuple[str, str], str] = {}
    for curve in curves.unique():
        for label, kept in identical_points(fixed[curves == curve]).items():
            out[(str(curve), label)] = kept
    return out
