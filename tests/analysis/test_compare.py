"""Loss-against-InfoNCE and adaptive-against-fixed comparisons on a hand-written summary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from zelo.analysis.compare import adaptive_vs_best_fixed, diff_se, right_side_recovery


def _summary() -> pd.DataFrame:
    rows = [
        # loss, label, miner, intelligence, mean, se
        ("infonce", "random", "random", 0.01, 0.30, 0.003),
        ("infonce", "topk", "topk", 0.30, 0.26, 0.004),
        ("infonce", "llm_ensemble", "llm_ensemble", 0.50, 0.24, 0.004),
        ("infonce", "oracle100", "oracle", 1.00, 0.25, 0.000),
        ("infonce", "adaptive", "adaptive", 0.20, 0.31, 0.005),
        ("masked", "random", "random", 0.01, 0.29, 0.003),
        ("masked", "llm_ensemble", "llm_ensemble", 0.50, 0.27, 0.003),
        ("masked", "oracle100", "oracle", 1.00, 0.31, 0.004),
        ("masked", "adaptive", "adaptive", 0.60, 0.28, 0.002),
        ("distill", "random", "random", 0.01, 0.20, math.nan),  # one seed
    ]
    return pd.DataFrame(
        [
            {
                "loss": loss,
                "label": label,
                "miner": miner,
                "adaptive": miner == "adaptive",
                "n_seeds": 1 if math.isnan(se) else 3,
                "intelligence_mean": x,
                "test_ndcg10_mean": m,
                "test_ndcg10_se": se,
            }
            for loss, label, miner, x, m, se in rows
        ]
    )


def test_diff_se():
    assert diff_se(0.003, 0.004) == pytest.approx(0.005)


def test_right_side_recovery_hand_computed():
    out = right_side_recovery(_summary(), n_high=2)
    # the right side is infonce's two most intelligent fixed points: oracle100, llm_ensemble;
    # infonce's best fixed point is random (0.30; the adaptive 0.31 is no fixed point)
    assert [(r["loss"], r["label"]) for r in out] == [
        ("masked", "oracle100"),
        ("masked", "llm_ensemble"),
    ]  # distill has no right-side point
    o, lm = out
    assert o["baseline_best_label"] == "random"
    assert o["gain"] == pytest.approx(0.06) and o["baseline_drop"] == pytest.approx(0.05)
    assert o["share_removed"] == pytest.approx(1.2)
    assert o["gain_se"] == pytest.approx(0.004)
    assert lm["gain"] == pytest.approx(0.03) and lm["baseline_drop"] == pytest.approx(0.06)
    assert lm["share_removed"] == pytest.approx(0.5)
    assert lm["gain_se"] == pytest.approx(0.005)


def test_no_drop_gives_nan_share_and_no_baseline_gives_nothing():
    df = _summary()
    flat = df.copy()
    flat.loc[flat["loss"] == "infonce", "test_ndcg10_mean"] = 0.25
    out = right_side_recovery(flat, n_high=1)
    assert len(out) == 1 and math.isnan(out[0]["share_removed"])
    assert right_side_recovery(df[df["loss"] != "infonce"]) == []


def test_adaptive_against_best_fixed_per_loss():
    out = {r["loss"]: r for r in adaptive_vs_best_fixed(_summary())}
    assert set(out) == {"infonce", "masked"}  # distill has no adaptive point
    assert out["infonce"]["best_fixed_label"] == "random"
    assert out["infonce"]["difference"] == pytest.approx(0.01)
    assert out["infonce"]["difference_se"] == pytest.approx(math.sqrt(0.005**2 + 0.003**2))
    assert out["masked"]["best_fixed_label"] == "oracle100"
    assert out["masked"]["difference"] == pytest.approx(-0.03)


def test_upper_bound_is_reported_apart_from_the_practical_miner():
    df = _summary()
    df["control"] = None
    df.loc[df["label"] == "oracle100", "control"] = "scorer:oracle"
    bound = {
        "loss": "infonce",
        "label": "adaptive_oracle",
        "miner": "adaptive_oracle",
        "adaptive": True,
        "control": "scorer:oracle",
        "n_seeds": 3,
        "intelligence_mean": 0.7,
        "test_ndcg10_mean": 0.40,
        "test_ndcg10_se": 0.004,
    }
    df = pd.concat([df, pd.DataFrame([bound])], ignore_index=True)
    # masked: its best fixed point oracle100 is a CONTROL, so random (0.29) is the best fixed
    out = {r["loss"]: r for r in adaptive_vs_best_fixed(df)}
    assert out["masked"]["best_fixed_label"] == "random"
    assert out["masked"]["difference"] == pytest.approx(-0.01)
    assert out["masked"]["upper_bound_label"] is None
    r = out["infonce"]
    assert r["adaptive_label"] == "adaptive" and r["difference"] == pytest.approx(0.01)
    assert r["upper_bound_label"] == "adaptive_oracle"
    assert r["upper_bound_difference"] == pytest.approx(0.10)
    assert r["upper_bound_difference_se"] == pytest.approx(0.005)
    only_bound = df[df["label"] != "adaptive"]
    (r,) = [x for x in adaptive_vs_best_fixed(only_bound) if x["loss"] == "infonce"]
    assert r["adaptive_label"] is None and r["difference"] is None
    assert r["upper_bound_label"] == "adaptive_oracle"
