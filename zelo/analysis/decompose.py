"""The FN-free decomposition: what a miner's hard true negatives give, what its false ones cost.

Each miner (a label) is paired with its FN-free twin (the same point with
``miner.drop_judged=true``, a control that reads the full judgments) and with the random miner of
the same curve (loss and annotation completeness): ``miner=random``, else the dial (or oracle) at
``x=0``, which draws random negatives by construction. Like is compared with like:

- **hardness benefit** = twin - FN-free random: the true hard negatives against random *true*
  negatives. The baseline is the random point's own twin (``random`` or ``dial(x=0)`` with
  ``drop_judged=true``): random negatives carry false negatives too (0.3 % on the synthetic
  collection, about 1 % on NFCorpus, more on small densely judged collections), and a raw
  baseline would credit their removal to hardness. Only when the sweep ran no such twin does the
  raw random point stand in; ``baseline_fn_free`` says which, and the tables flag it;
- **FN damage** = raw - twin: what the false negatives among them cost (negative when they hurt);
- **net effect** = raw - raw random: what a user of the miner sees against random negatives.

All are means over seeds of student test nDCG@10. When the two sides ran the same seeds the
difference is paired by seed (mean and standard error of the per-seed differences, which removes
the seed's shared data split, collection and initialisation); otherwise the sides are
independent and the standard error is ``sqrt(se_a**2 + se_b**2)``. Each record says which
(``*_se_method``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from zelo.analysis.compare import diff_se
from zelo.analysis.kinds import base_label, control_text, curve_names, is_twin
from zelo.analysis.laffer import identical_points
from zelo.analysis.results import is_adaptive

log = logging.getLogger(__name__)

RANDOM = "random"
ZERO_X = r"[(,]x=0(?:\.0*)?[,)]"  # the dial or the oracle at zero intelligence: dial(x=0.0)
PAIRED = "paired"
INDEPENDENT = "independent"
DECOMPOSITION_COLUMNS = [
    "curve",
    "label",
    "twin_label",
    "miner",
    "control",
    "twin_control",
    "intelligence",
    "fn_rate",
    "tn_hardness",
    "twin_tn_hardness",
    "n_raw",
    "n_twin",
    "raw_mean",
    "raw_se",
    "twin_mean",
    "twin_se",
    "random_label",
    "random_mean",
    "random_se",
    "hardness_benefit",
    "hardness_benefit_se",
    "benefit_se_method",
    "fn_damage",
    "fn_damage_se",
    "damage_se_method",
    "baseline_fn_free",
    "random_raw_label",
    "random_raw_mean",
    "random_raw_se",
    "random_fn_rate",
    "net_effect",
    "net_effect_se",
    "net_se_method",
    "num_short",
    "twin_num_short",
    "twin_same_as",
]


def per_seed(rows: pd.DataFrame, column: str = "test_ndcg10") -> pd.Series:
    """``column`` of one point's jobs, one value per seed (repeats averaged), indexed by seed."""
    values = pd.to_numeric(rows[column], errors="coerce")
    return values.groupby(rows["seed"]).mean().dropna().sort_index()


def mean_se(values: pd.Series) -> tuple[float, float]:
    """Mean and standard error (``std(ddof=1) / sqrt(n)``, NaN below two values)."""
    if values.empty:
        return math.nan, math.nan
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return float(values.mean()), se


def seed_difference(a: pd.Series, b: pd.Series) -> tuple[float, float, str]:
    """``mean(a) - mean(b)``, its standard error, and how it was computed.

    Args:
        a: per-seed values of one point (index: seed).
        b: per-seed values of the other.

    Returns:
        ``(difference, se, method)``: ``paired`` when both ran the same seeds (the SE of the
        per-seed differences), else ``independent`` (``sqrt(se_a**2 + se_b**2)``).
    """
    if a.empty or b.empty:
        return math.nan, math.nan, INDEPENDENT
    if list(a.index) == list(b.index):
        diff, se = mean_se(a - b)
        return diff, se, PAIRED
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    return ma - mb, diff_se(sa, sb), INDEPENDENT


def fn_decomposition(df: pd.DataFrame) -> pd.DataFrame:
    """Pair every twin with its raw miner and the (FN-free) random miner of its curve.

    Args:
        df: the results table (one row per job; ``label``, ``seed``, ``test_ndcg10`` and the
            columns of :mod:`zelo.analysis.kinds`). Adaptive miners are left out.

    Returns:
        One row per (curve, miner with a twin), :data:`DECOMPOSITION_COLUMNS`, ordered by curve
        and the raw point's mean intelligence. ``random_*`` is the hardness benefit's baseline:
        the random point's twin when the sweep ran it (``baseline_fn_free`` true), else the raw
        random point; ``random_raw_*`` and ``random_fn_rate`` are the raw random point (the net
        effect's baseline). ``num_short``/``twin_num_short``: training queries left with fewer
        than N negatives (mean over seeds). ``twin_same_as``: the lower-intelligence twin this
        twin repeats seed for seed, if any. Baseline columns are NaN when the curve has none.
    """
    if df.empty or "label" not in df.columns:
        return pd.DataFrame(columns=DECOMPOSITION_COLUMNS)
    df = df[~is_adaptive(df)].assign(curve=lambda d: curve_names(d), twin=lambda d: is_twin(d))
    records = []
    for curve, part in df.groupby("curve", sort=True):
        raw, twins = part[~part["twin"]], part[part["twin"]]
        random_raw = _random_point(raw)
        random = _twin_of(twins, random_raw)
        repeats = identical_points(twins)
        for twin_label, twin_rows in twins.groupby("label", sort=True):
            partner = base_label(twin_label)
            raw_rows = raw[raw["label"].map(base_label) == partner]
            if raw_rows.empty:
                log.warning("%s: twin %s has no raw partner %s", curve, twin_label, partner)
                continue
            baseline = random if not random.empty else random_raw
            record = _record(str(curve), raw_rows, twin_rows, baseline, random_raw)
            record["baseline_fn_free"] = not random.empty if not baseline.empty else None
            record["twin_same_as"] = repeats.get(str(twin_label))
            records.append(record)
    out = pd.DataFrame(records, columns=DECOMPOSITION_COLUMNS)
    if out.empty:
        return out
    return out.sort_values(["curve", "intelligence", "label"], kind="mergesort").reset_index(
        drop=True
    )


def describe_decomposition(r: dict[str, Any]) -> str:
    """One line per miner: raw, twin, hardness benefit and FN damage with their SEs."""
    if isinstance(r["random_label"], str):
        baseline = r["random_label"] if r.get("baseline_fn_free") else f"RAW {r['random_label']}"
        random = (
            f"hardness benefit (twin - {baseline}) {r['hardness_benefit']:+.4f} ± "
            f"{r['hardness_benefit_se']:.4f} ({r['benefit_se_method']})"
        )
        if not r.get("baseline_fn_free"):
            random += ", against a baseline that carries false negatives (no FN-free random ran)"
    else:
        random = "no random miner on this curve: hardness benefit not measured"
    return (
        f"{r['curve']}: {r['label']} raw {r['raw_mean']:.4f} ± {r['raw_se']:.4f}, FN-free twin "
        f"(CONTROL) {r['twin_mean']:.4f} ± {r['twin_se']:.4f}; {random}; FN damage (raw - twin) "
        f"{r['fn_damage']:+.4f} ± {r['fn_damage_se']:.4f} ({r['damage_se_method']}; mean ± SE "
        f"over seeds, n = {r['n_raw']}/{r['n_twin']})"
    )


def _random_point(raw: pd.DataFrame) -> pd.DataFrame:
    """The jobs of a curve's random miner: the plain ``random`` label, else another
    ``miner=random`` label, else a zero-intelligence dial point (``dial(x=0)``); may be empty."""
    labels = raw["label"].astype(str)
    rows = raw[raw["miner"].astype(str) == RANDOM]
    if rows.empty:
        rows = raw[labels.str.contains(ZERO_X)]
    if rows.empty or (labels[rows.index] == RANDOM).any():
        return rows[labels[rows.index] == RANDOM]
    return rows[labels[rows.index] == sorted(labels[rows.index])[0]]


def _twin_of(twins: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """The jobs of the FN-free twin of the raw point ``raw`` (empty when it did not run)."""
    if raw.empty or twins.empty:
        return twins.iloc[:0]
    label = str(raw["label"].iloc[0])
    return twins[twins["label"].map(base_label) == label]


def _record(
    curve: str,
    raw: pd.DataFrame,
    twin: pd.DataFrame,
    random: pd.DataFrame,
    random_raw: pd.DataFrame,
) -> dict[str, Any]:
    raw_y, twin_y, random_y = per_seed(raw), per_seed(twin), per_seed(random)
    random_raw_y = per_seed(random_raw)
    benefit, benefit_se, benefit_method = seed_difference(twin_y, random_y)
    damage, damage_se, damage_method = seed_difference(raw_y, twin_y)
    net, net_se, net_method = seed_difference(raw_y, random_raw_y)
    (raw_m, raw_s), (twin_m, twin_s), (rnd_m, rnd_s) = map(mean_se, (raw_y, twin_y, random_y))
    rr_m, rr_s = mean_se(random_raw_y)
    return {
        "curve": curve,
        "label": str(raw["label"].iloc[0]),
        "twin_label": str(twin["label"].iloc[0]),
        "miner": str(raw["miner"].iloc[0]),
        "control": _control(raw),  # what the raw point reads of the judgments (None: nothing)
        "twin_control": _control(twin) or "fn_free_twin",  # always a CONTROL
        "intelligence": _mean(raw, "intelligence"),
        "fn_rate": _mean(raw, "fn_rate"),
        "tn_hardness": _mean(raw, "tn_hardness"),
        "twin_tn_hardness": _mean(twin, "tn_hardness"),
        "n_raw": len(raw_y),
        "n_twin": len(twin_y),
        "raw_mean": raw_m,
        "raw_se": raw_s,
        "twin_mean": twin_m,
        "twin_se": twin_s,
        "random_label": str(random["label"].iloc[0]) if not random.empty else None,
        "random_mean": rnd_m,
        "random_se": rnd_s,
        "hardness_benefit": benefit,
        "hardness_benefit_se": benefit_se,
        "benefit_se_method": benefit_method if not random.empty else None,
        "fn_damage": damage,
        "fn_damage_se": damage_se,
        "damage_se_method": damage_method,
        "random_raw_label": str(random_raw["label"].iloc[0]) if not random_raw.empty else None,
        "random_raw_mean": rr_m,
        "random_raw_se": rr_s,
        "random_fn_rate": _mean(random_raw, "fn_rate"),
        "net_effect": net,
        "net_effect_se": net_se,
        "net_se_method": net_method if not random_raw.empty else None,
        "num_short": _mean(raw, "num_short"),
        "twin_num_short": _mean(twin, "num_short"),
    }


def _control(rows: pd.DataFrame) -> str | None:
    """The point's ``run/control`` (``None`` when it reads nothing of the judgments)."""
    return control_text(rows["control"].iloc[0]) if "control" in rows.columns else None


def _mean(rows: pd.DataFrame, column: str) -> float:
    if column not in rows.columns:
        return math.nan
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
