"""Controls, twins, upper bounds, curve names: what each point of a sweep is."""

from __future__ import annotations

import math

import pandas as pd

from zelo.analysis.kinds import (
    add_flags,
    base_label,
    control_parts,
    curve_names,
    keep_text,
    point_numbers,
)


def test_control_parts() -> None:
    assert control_parts("fn_free_twin+scorer:oracle") == ["fn_free_twin", "scorer:oracle"]
    assert control_parts(None) == control_parts(math.nan) == control_parts("null") == []


def test_flags() -> None:
    table = pd.DataFrame(
        {
            "label": [
                "random",
                "dial(x=0.5)",
                "topk(drop_judged=true)",
                "adaptive",
                "adaptive_oracle",
                "topk(drop_judged=false)",
            ],
            "miner": ["random", "dial", "topk", "adaptive", "adaptive_oracle", "topk"],
            "adaptive": [False, False, False, True, True, False],
            "control": [None, "scorer:dial", None, None, "scorer:oracle", math.nan],
        }
    )
    flags = add_flags(table)
    assert list(flags["twin"]) == [False, False, True, False, False, False]
    assert list(flags["control_flag"]) == [False, True, True, False, True, False]
    assert list(flags["upper_bound"]) == [False, False, False, False, True, False]


def test_base_label() -> None:
    assert base_label("dial(drop_judged=true,x=0.5)") == "dial(x=0.5)"
    assert base_label("topk(drop_judged=true)") == "topk"
    assert base_label("random") == "random"


def test_keep_text_and_curve_names() -> None:
    assert [keep_text(v) for v in (1.0, 4, math.inf, math.nan)] == ["1", "4", "all", "?"]
    table = pd.DataFrame(
        {"loss": ["infonce", "infonce", None], "keep_positives": [1.0, math.inf, 1.0]}
    )
    assert list(curve_names(table)) == ["infonce keep=1", "infonce keep=all", "unknown keep=1"]
    assert list(curve_names(table.iloc[:1])) == ["infonce"]  # one level: the loss alone


def test_point_numbers_follow_first_appearance() -> None:
    assert point_numbers(["b", "a", "b", "c"]) == {"b": 1, "a": 2, "c": 3}
