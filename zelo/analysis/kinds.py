"""What a point of a sweep is: a real miner, a control, an FN-free twin, an upper bound; its curve.

A *control* reads the full judgments (``run/control`` is set: the oracle and the dial, simulated
LLM judges, a teacher that reads them, the FN-free twin). An *upper bound* is an adaptive miner
that reads them (``adaptive_oracle``). The *twin* of a point is the same miner with
``miner.drop_judged=true``. A *curve* is one loss at one annotation completeness
(``annotation.keep_positives``); the completeness enters its name only when the sweep varies it.
These functions work on the results table and on the summary table alike.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from zelo.analysis.results import is_adaptive

TWIN_CONTROL = "fn_free_twin"  # the part of run/control that marks miner.drop_judged=true
TWIN_SETTING = "drop_judged"  # the label part of the twin: dial(drop_judged=true,x=0.5)
CONTROL_TAG = "CONTROL"
UPPER_BOUND_TAG = "UPPER BOUND"
ALL_POSITIVES = "all"


def control_parts(value: Any) -> list[str]:
    """``run/control`` split on ``+`` (``"fn_free_twin+scorer:oracle"``); [] when none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [p for p in str(value).split("+") if p and p.lower() not in ("none", "nan", "null")]


def control_text(value: Any) -> str | None:
    """``run/control`` normalised: its parts joined by ``+``, ``None`` when it reads nothing."""
    return "+".join(control_parts(value)) or None


def is_control(table: pd.DataFrame) -> pd.Series:
    """True on rows whose run reads the full judgments (``run/control`` set, or a twin)."""
    if "control" not in table.columns:
        return is_twin(table)
    return table["control"].map(lambda v: bool(control_parts(v))) | is_twin(table)


def is_twin(table: pd.DataFrame) -> pd.Series:
    """True on FN-free twins: ``fn_free_twin`` in ``run/control`` or ``drop_judged=true`` in the
    label (``miner.drop_judged=true`` on the command line)."""
    twin = pd.Series(False, index=table.index)
    if "control" in table.columns:
        twin |= table["control"].map(lambda v: TWIN_CONTROL in control_parts(v))
    if "label" in table.columns:
        twin |= table["label"].astype(str).map(lambda s: f"{TWIN_SETTING}=true" in s.lower())
    return twin


def is_upper_bound(table: pd.DataFrame) -> pd.Series:
    """True on adaptive miners that read the full judgments (``adaptive_oracle``): an upper
    bound on what a miner could reach, never a method a user can run."""
    reads = table["control"].map(lambda v: bool(control_parts(v))) if "control" in table else False
    named = table["miner"].astype(str) == "adaptive_oracle" if "miner" in table else False
    return (is_adaptive(table) & reads) | named


def point_tag(row: pd.Series | dict[str, Any]) -> str:
    """``UPPER BOUND``, ``CONTROL`` or ``""`` for one row of a table with the flag columns."""
    if row.get("upper_bound"):
        return UPPER_BOUND_TAG
    return CONTROL_TAG if row.get("control_flag") else ""


def add_flags(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with boolean ``twin``, ``control_flag`` and ``upper_bound`` columns."""
    out = table.copy()
    out["twin"] = is_twin(table).to_numpy(bool)
    out["control_flag"] = is_control(table).to_numpy(bool)
    out["upper_bound"] = is_upper_bound(table).to_numpy(bool)
    return out


def base_label(label: str) -> str:
    """The raw partner's label of a twin: ``dial(drop_judged=true,x=0.5)`` -> ``dial(x=0.5)``."""
    match = re.fullmatch(r"([^(]*)\((.*)\)", str(label))
    if not match:
        return str(label)
    name, inside = match.groups()
    parts = [p for p in inside.split(",") if not p.startswith(f"{TWIN_SETTING}=")]
    return f"{name}({','.join(parts)})" if parts else name


def keep_text(value: Any) -> str:
    """How complete the annotation is: ``1``, ``4``, ``all`` (every positive labelled), ``?``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if isinstance(value, float) and math.isinf(value):
        return ALL_POSITIVES
    return str(int(value))


def curve_names(table: pd.DataFrame) -> pd.Series:
    """Each row's curve: its loss (``unknown`` when unrecorded), then ``keep=K`` when the
    table holds several annotation completeness levels."""
    if table.empty:
        return pd.Series(dtype=str, index=table.index)
    loss = table["loss"].fillna("unknown").astype(str) if "loss" in table else "all"
    loss = pd.Series(loss, index=table.index)
    if "keep_positives" not in table.columns:
        return loss
    keep = table["keep_positives"].map(keep_text)
    if keep.nunique() < 2:
        return loss
    return loss + " keep=" + keep


def point_numbers(labels: pd.Series | list[str]) -> dict[str, int]:
    """The number each label carries: 1, 2, ... in order of first appearance."""
    return {str(label): i + 1 for i, label in enumerate(dict.fromkeys(map(str, labels)))}


def point_keys(table: pd.DataFrame) -> list[tuple[str, str]]:
    """Each row's point as ``(curve, label)``: one label on two curves (the same dial setting at
    two completeness levels) is two points, with two numbers."""
    return list(zip(curve_names(table).astype(str), table["label"].astype(str), strict=True))


def curve_point_numbers(table: pd.DataFrame) -> dict[tuple[str, str], int]:
    """The number each point carries on laffer.png and in the results page: 1, 2, ... per
    ``(curve, label)`` in order of first appearance (the summary's order: curve, then
    intelligence), so numbers never repeat across curves (colours)."""
    return {key: i + 1 for i, key in enumerate(dict.fromkeys(point_keys(table)))}
