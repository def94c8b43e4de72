"""The real-ladder table on a hand-made results table: the hardness benefit is taken against the
random miner's FN-free twin (like against like), numbers computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from zelo.analysis.ladder import ladder_table, markdown


def _jobs(miner: str, values: dict[int, float], x: float, fn: float, twin: bool = False):
    return [
        {
            "job": f"{miner}-{twin}-{seed}",
            "label": f"{miner}(drop_judged=True)" if twin else miner,
            "miner": miner,
            "seed": seed,
            "control": "fn_free_twin" if twin else None,
            "intelligence": x,
            "fn_rate": 0.0 if twin else fn,
            "tn_hardness": -0.3 if twin else -0.2,
            "test_ndcg10": y,
        }
        for seed, y in values.items()
    ]


def table() -> pd.DataFrame:
    rows = _jobs("random", {0: 0.40, 1: 0.42, 2: 0.44}, 0.01, 0.02)
    rows += _jobs("random", {0: 0.41, 1: 0.44, 2: 0.44}, 0.01, 0.02, twin=True)
    rows += _jobs("mpnet", {0: 0.30, 1: 0.31, 2: 0.35}, 0.6, 0.5)
    rows += _jobs("mpnet", {0: 0.45, 1: 0.47, 2: 0.46}, 0.6, 0.5, twin=True)
    rows += _jobs("bm25", {0: 0.39, 1: 0.40}, 0.3, 0.2)  # no twin, two seeds
    return pd.DataFrame(rows)


def test_benefit_is_against_the_random_twin_and_paired_by_seed() -> None:
    t = ladder_table(table()).set_index("miner")
    assert list(t.index) == ["random", "bm25", "mpnet"]  # by intelligence
    m = t.loc["mpnet"]
    # twin - random twin per seed: .04, .03, .02 -> mean .03, SE = std(ddof=1)/sqrt(3) = .01/sqrt(3)
    assert m["benefit"] == pytest.approx(0.03)
    assert m["benefit_se"] == pytest.approx(0.01 / math.sqrt(3))
    assert m["benefit_method"] == "paired"
    # raw - twin per seed: -.15, -.16, -.11 -> mean -.14
    assert m["damage"] == pytest.approx(-0.14)
    # raw - random raw: -.10, -.11, -.09
    assert m["vs_random"] == pytest.approx(-0.10)
    assert m["n_raw"] == 3 and m["fn_rate"] == pytest.approx(0.5)
    assert m["tn_hardness"] == pytest.approx(-0.2)
    assert m["twin_tn_hardness"] == pytest.approx(-0.3)
    r = t.loc["random"]
    assert r["benefit"] == pytest.approx(0.0) and r["damage"] == pytest.approx(-0.01)


def test_missing_sides_and_seed_subsets() -> None:
    t = ladder_table(table()).set_index("miner")
    b = t.loc["bm25"]
    assert math.isnan(b["benefit"]) and math.isnan(b["damage"]) and b["n_twin"] == 0
    # bm25 ran seeds 0, 1 only: against random's 0, 1, 2 the difference is independent
    assert b["vs_random_method"] == "independent"
    only = ladder_table(table(), seeds=[0, 1]).set_index("miner")
    assert only.loc["bm25", "vs_random_method"] == "paired"
    assert only.loc["mpnet", "benefit"] == pytest.approx(0.035)
    text = markdown(only.reset_index())
    assert "| mpnet | 2/2 |" in text and "+0.0350 ±" in text
