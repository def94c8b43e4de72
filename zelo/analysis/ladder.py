"""The real-miner ladder table: every miner raw and as its FN-free twin, decomposed against an
FN-free baseline.

For each miner (a value of ``run/miner``; the twin is the same miner with
``miner.drop_judged=true``, a CONTROL that reads the full judgments):

- **hardness benefit** = twin − the *random miner's twin*: both sides are free of false
  negatives, so the difference is what the miner's hard true negatives are worth, like against
  like (random negatives carry a few false negatives too: on NFCorpus about 1 %);
- **FN damage** = raw − twin: what the false negatives among its negatives cost;
- **raw − random**: what a user running the miner gets against random negatives.

Each difference is over seeds of student test nDCG@10: paired by seed when both sides ran the
same seeds (the SE of the per-seed differences), else independent (``sqrt(se_a² + se_b²)``).
``python -m zelo.analysis.ladder SWEEP_DIR [...] [--seeds 0 1 2]`` prints the table in Markdown.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zelo.analysis.decompose import mean_se, per_seed, seed_difference
from zelo.analysis.kinds import is_twin
from zelo.analysis.results import collect_results

RANDOM = "random"
COLUMNS = [
    "miner", "n_raw", "n_twin", "intelligence", "fn_rate", "tn_hardness", "twin_tn_hardness",
    "raw_mean", "raw_se", "twin_mean", "twin_se", "benefit", "benefit_se", "benefit_method",
    "damage", "damage_se", "damage_method", "vs_random", "vs_random_se", "vs_random_method",
    "twin_short",
]  # fmt: skip


def _mean(rows: pd.DataFrame, column: str) -> float:
    if column not in rows.columns:
        return math.nan
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def ladder_table(df: pd.DataFrame, seeds: list[int] | None = None) -> pd.DataFrame:
    """One row per miner: raw and twin means ± SE, the miner's figures and the decomposition.

    Args:
        df: a results table (:func:`zelo.analysis.results.collect_results`): ``miner``,
            ``seed``, ``test_ndcg10``, ``intelligence``, ``fn_rate``, ``tn_hardness`` and the
            twin marks (``control`` / the ``miner.drop_judged`` override).
        seeds: keep only these seeds (``None``: all).

    Returns:
        :data:`COLUMNS`, ordered by the raw miner's intelligence; decomposition columns are NaN
        where a side is missing (no random twin: no hardness benefit).
    """
    if seeds is not None:
        df = df[pd.to_numeric(df["seed"], errors="coerce").isin(seeds)]
    df = df.assign(twin=is_twin(df))
    raw, twin = df[~df["twin"]], df[df["twin"]]
    random_raw = per_seed(raw[raw["miner"] == RANDOM])
    random_twin = per_seed(twin[twin["miner"] == RANDOM])
    records = []
    for miner in sorted(set(df["miner"].astype(str))):
        r, t = raw[raw["miner"] == miner], twin[twin["miner"] == miner]
        ry, ty = per_seed(r), per_seed(t)
        (rm, rs), (tm, ts) = mean_se(ry), mean_se(ty)
        benefit = seed_difference(ty, random_twin)
        damage = seed_difference(ry, ty)
        vs_random = seed_difference(ry, random_raw)
        records.append(
            {
                "miner": miner,
                "n_raw": len(ry),
                "n_twin": len(ty),
                "intelligence": _mean(r if len(r) else t, "intelligence"),
                "fn_rate": _mean(r, "fn_rate"),
                "tn_hardness": _mean(r, "tn_hardness"),
                "twin_tn_hardness": _mean(t, "tn_hardness"),
                "raw_mean": rm,
                "raw_se": rs,
                "twin_mean": tm,
                "twin_se": ts,
                **_diff("benefit", benefit, not ty.empty and not random_twin.empty),
                **_diff("damage", damage, not ry.empty and not ty.empty),
                **_diff("vs_random", vs_random, not ry.empty and not random_raw.empty),
                "twin_short": _mean(t, "num_short") if "num_short" in t.columns else math.nan,
            }
        )
    out = pd.DataFrame(records, columns=COLUMNS)
    return out.sort_values("intelligence", kind="mergesort").reset_index(drop=True)


def _diff(name: str, result: tuple[float, float, str], present: bool) -> dict[str, Any]:
    value, se, method = result if present else (math.nan, math.nan, None)
    return {name: value, f"{name}_se": se, f"{name}_method": method}


def _pm(mean: float, se: float, digits: int = 4) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:+.{digits}f} ± {se:.{digits}f}" if math.isfinite(se) else f"{mean:+.{digits}f}"


def _num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "–"


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown, one line per miner (the twin's columns are CONTROLs)."""
    head = (
        "| miner | n raw/twin | intelligence | FN rate (raw) | TN hardness raw / twin | raw "
        "test nDCG@10 | twin (CONTROL) | hardness benefit (twin − random twin) | FN damage "
        "(raw − twin) | raw − random |\n|" + " --- |" * 10
    )
    lines = [head]
    for r in table.to_dict("records"):
        lines.append(
            f"| {r['miner']} | {r['n_raw']}/{r['n_twin']} | {_num(r['intelligence'])} | "
            f"{_num(r['fn_rate'])} | {_num(r['tn_hardness'])} / {_num(r['twin_tn_hardness'])} | "
            f"{_pm(r['raw_mean'], r['raw_se']).lstrip('+')} | "
            f"{_pm(r['twin_mean'], r['twin_se']).lstrip('+')} | "
            f"{_pm(r['benefit'], r['benefit_se'])} | {_pm(r['damage'], r['damage_se'])} | "
            f"{_pm(r['vs_random'], r['vs_random_se'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    args = parser.parse_args(argv)
    for sweep in args.sweeps:
        df = collect_results(sweep)
        seeds = sorted(int(s) for s in pd.to_numeric(df["seed"], errors="coerce").dropna().unique())
        print(f"\n### {sweep} (seeds {args.seeds or seeds}; SE paired by seed)\n")
        print(markdown(ladder_table(df, args.seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
