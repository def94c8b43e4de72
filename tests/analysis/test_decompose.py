"""The FN-free decomposition on a hand-made results table, numbers computed by hand."""

from __future__ import annotations

import logging
import math

import pandas as pd
import pytest

from zelo.analysis.decompose import describe_decomposition, fn_decomposition, seed_difference

CURVE = "infonce"


def _jobs(label: str, miner: str, values: dict[int, float], x: float, fn: float, twin=False):
    control = "scorer:dial" if miner == "dial" else None
    if twin:
        control = "+".join(c for c in ("fn_free_twin", control) if c)
    return [
        {
            "job": f"{label}-{seed}",
            "label": label,
            "miner": miner,
            "loss": CURVE,
            "seed": seed,
            "adaptive": False,
            "control": control,
            "keep_positives": 1.0,
            "intelligence": x,
            "fn_rate": 0.0 if twin else fn,
            "tn_hardness": -0.3 if twin else -0.2,
            "test_ndcg10": y,
        }
        for seed, y in values.items()
    ]


def table() -> pd.DataFrame:
    rows = _jobs("random", "random", {0: 0.43, 1: 0.44, 2: 0.45}, 0.05, 0.0)
    rows += _jobs("dial(x=0.5)", "dial", {0: 0.40, 1: 0.42, 2: 0.44}, 0.5, 0.2)
    rows += _jobs("dial(drop_judged=true,x=0.5)", "dial", {0: 0.45, 1: 0.46, 2: 0.50}, 0.5, 0, True)
    # top-k's twin ran two seeds only: its differences are independent, not paired
    rows += _jobs("topk", "topk", {0: 0.38, 1: 0.40, 2: 0.42}, 0.7, 0.3)
    rows += _jobs("topk(drop_judged=true)", "topk", {0: 0.47, 1: 0.49}, 0.7, 0.0, True)
    rows += _jobs("shifted(drop_judged=true)", "shifted", {0: 0.4}, 0.6, 0.0, True)  # no partner
    return pd.DataFrame(rows)


def test_paired_differences_by_seed(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        out = fn_decomposition(table()).set_index("label")
    assert "shifted(drop_judged=true) has no raw partner shifted" in caplog.text
    assert list(out.index) == ["dial(x=0.5)", "topk"]  # by intelligence; no twin for random
    d = out.loc["dial(x=0.5)"]
    assert d["twin_label"] == "dial(drop_judged=true,x=0.5)" and d["curve"] == CURVE
    assert d["raw_mean"] == pytest.approx(0.42) and d["raw_se"] == pytest.approx(0.02 / 3**0.5)
    assert d["twin_mean"] == pytest.approx(0.47) and d["random_mean"] == pytest.approx(0.44)
    # FN damage = raw - twin per seed: -0.05, -0.04, -0.06 -> mean -0.05, sd 0.01, SE 0.01/sqrt3
    assert d["fn_damage"] == pytest.approx(-0.05)
    assert d["fn_damage_se"] == pytest.approx(0.01 / 3**0.5)
    assert d["damage_se_method"] == "paired"
    # hardness benefit = twin - random per seed: 0.02, 0.02, 0.05 -> mean 0.03, sd sqrt(3e-4)
    assert d["hardness_benefit"] == pytest.approx(0.03)
    assert d["hardness_benefit_se"] == pytest.approx(0.01)
    assert d["benefit_se_method"] == "paired"
    hardness = (d["fn_rate"], d["tn_hardness"], d["twin_tn_hardness"])
    assert hardness == pytest.approx((0.2, -0.2, -0.3))
    assert (d["n_raw"], d["n_twin"]) == (3, 3)


def test_independent_differences_when_the_seeds_differ() -> None:
    t = fn_decomposition(table()).set_index("label").loc["topk"]
    # twin: 0.47, 0.49 -> mean 0.48, SE 0.01; raw: mean 0.40, SE 0.02/sqrt3; random SE 0.01/sqrt3
    assert t["fn_damage"] == pytest.approx(-0.08)
    assert t["fn_damage_se"] == pytest.approx(math.sqrt(0.01**2 + 0.02**2 / 3))
    assert t["damage_se_method"] == "independent"
    assert t["hardness_benefit"] == pytest.approx(0.04)
    assert t["hardness_benefit_se"] == pytest.approx(math.sqrt(0.01**2 + 0.01**2 / 3))
    assert t["benefit_se_method"] == "independent"
    assert (t["n_raw"], t["n_twin"]) == (3, 2)


def test_without_random_the_benefit_is_not_measured() -> None:
    df = table()
    out = fn_decomposition(df[df["miner"] != "random"]).set_index("label")
    assert math.isnan(out.loc["dial(x=0.5)", "hardness_benefit"])
    assert out.loc["dial(x=0.5)", "random_label"] is None
    assert out.loc["dial(x=0.5)", "fn_damage"] == pytest.approx(-0.05)


def test_curves_keep_their_own_random() -> None:
    df = table()
    full = df.assign(keep_positives=math.inf, test_ndcg10=df["test_ndcg10"] + 0.1)
    out = fn_decomposition(pd.concat([df, full], ignore_index=True))
    assert sorted(set(out["curve"])) == ["infonce keep=1", "infonce keep=all"]
    benefits = out[out["label"] == "dial(x=0.5)"]["hardness_benefit"]
    assert list(benefits) == pytest.approx([0.03, 0.03])  # each against its own level's random


def test_seed_difference_cases() -> None:
    a = pd.Series([0.5], index=[0])
    diff, se, method = seed_difference(a, pd.Series([0.4], index=[0]))
    assert diff == pytest.approx(0.1) and math.isnan(se) and method == "paired"
    assert math.isnan(seed_difference(a, pd.Series(dtype=float))[0])


def test_no_twin_gives_an_empty_table() -> None:
    df = table()
    out = fn_decomposition(df[~df["label"].str.contains("drop_judged")])
    assert out.empty and "fn_damage" in out.columns


def test_a_dial_sweep_uses_the_dial_at_zero_as_random(tmp_path, make_job) -> None:
    import json

    from zelo.analysis.results import collect_results

    # the laffer_dial experiment names miner.drop_judged on every job, false for the raw miner
    for i, (x, twin, y) in enumerate(
        [(0, "false", 0.40), (0.5, "false", 0.41), (0.5, "true", 0.46)]
    ):
        over = [
            "miner=dial",
            f"miner.scorer.intelligence={x}",
            f"miner.drop_judged={twin}",
            "seed=0",
        ]
        metrics = {
            "run/miner": "dial",
            "run/seed": 0,
            "run/loss": "infonce",
            "test/ndcg@10": y,
            "run/control": "fn_free_twin" if twin == "true" else None,
            "miner/ndcg@10": x,
        }
        make_job(tmp_path, f"{i}_job", over, json.dumps(metrics))
    df = collect_results(tmp_path)
    assert sorted(df["label"]) == ["dial(x=0)", "dial(x=0.5)", "dial(x=0.5,drop_judged=true)"]
    (record,) = fn_decomposition(df).to_dict(orient="records")
    assert record["label"] == "dial(x=0.5)" and record["random_label"] == "dial(x=0)"
    assert record["twin_control"] == "fn_free_twin"
    assert record["hardness_benefit"] == pytest.approx(0.06)
    assert record["fn_damage"] == pytest.approx(-0.05)


def test_records_say_what_reads_the_judgments() -> None:
    out = fn_decomposition(table()).set_index("label")
    assert out.loc["dial(x=0.5)", "control"] == "scorer:dial"
    assert out.loc["dial(x=0.5)", "twin_control"] == "fn_free_twin+scorer:dial"
    assert pd.isna(out.loc["topk", "control"]) and out.loc["topk", "twin_control"] == "fn_free_twin"


def test_the_benefit_is_measured_against_the_fn_free_random() -> None:
    # random negatives carry false negatives too: the baseline is random's own twin
    df = table()
    twin = _jobs("random(drop_judged=true)", "random", {0: 0.44, 1: 0.46, 2: 0.46}, 0.05, 0, True)
    out = fn_decomposition(pd.concat([df, pd.DataFrame(twin)], ignore_index=True))
    d = out.set_index("label").loc["dial(x=0.5)"]
    assert d["random_label"] == "random(drop_judged=true)" and d["baseline_fn_free"]
    # twin - FN-free random per seed: 0.01, 0.00, 0.04 -> 0.05/3, paired
    assert d["hardness_benefit"] == pytest.approx(0.05 / 3)
    assert d["hardness_benefit_se"] == pytest.approx(pd.Series([0.01, 0.0, 0.04]).sem())
    assert d["random_mean"] == pytest.approx(0.4533333, abs=1e-6)
    # the net effect compares raw with raw: raw - raw random per seed -0.03, -0.02, -0.01
    assert d["random_raw_label"] == "random" and d["random_raw_mean"] == pytest.approx(0.44)
    assert d["net_effect"] == pytest.approx(-0.02) and d["net_se_method"] == "paired"
    assert d["fn_damage"] == pytest.approx(-0.05)  # unchanged: raw - twin
    # random's own record: its twin against itself
    assert out.set_index("label").loc["random", "hardness_benefit"] == pytest.approx(0.0)


def test_a_raw_baseline_is_flagged_when_no_fn_free_random_ran() -> None:
    records = fn_decomposition(table()).to_dict(orient="records")
    d = next(r for r in records if r["label"] == "dial(x=0.5)")
    assert d["random_label"] == "random" and not d["baseline_fn_free"]
    line = describe_decomposition(d)
    assert "twin - RAW random" in line and "carries false negatives" in line


def test_a_dial_sweep_measures_against_the_twin_at_zero(tmp_path, make_job) -> None:
    import json

    from zelo.analysis.results import collect_results

    rows = [(0, "false", 0.40), (0, "true", 0.42), (0.5, "false", 0.41), (0.5, "true", 0.46)]
    for i, (x, twin, y) in enumerate(rows):
        over = ["miner=dial", f"miner.scorer.intelligence={x}", f"miner.drop_judged={twin}"]
        metrics = {
            "run/miner": "dial",
            "run/seed": 0,
            "run/loss": "infonce",
            "test/ndcg@10": y,
            "run/control": "fn_free_twin+scorer:dial" if twin == "true" else "scorer:dial",
            "miner/ndcg@10": x,
            "mining/num_short": 0.0 if twin == "false" else 7.0,
        }
        make_job(tmp_path, f"{i}_job", [*over, "seed=0"], json.dumps(metrics))
    out = fn_decomposition(collect_results(tmp_path)).set_index("label")
    d = out.loc["dial(x=0.5)"]
    assert d["random_label"] == "dial(x=0,drop_judged=true)" and d["baseline_fn_free"]
    assert d["hardness_benefit"] == pytest.approx(0.04)  # 0.46 - 0.42, not 0.46 - 0.40
    assert d["net_effect"] == pytest.approx(0.01)
    assert d["twin_num_short"] == pytest.approx(7.0) and d["num_short"] == pytest.approx(0.0)
