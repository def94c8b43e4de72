"""The Laffer fit: optimum, bootstrap CI, and the peak-against-ends statement on synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zelo.analysis.laffer import (
    argmax_in_range,
    fit_laffer,
    identical_points,
    peak_verdict,
    summarise,
)

XS = tuple(np.linspace(0.1, 1.0, 10))


def synthetic(curve, xs=XS, seeds=3, noise=0.005, seed=0) -> pd.DataFrame:
    """One job per (point, seed): intelligence ~ x, test nDCG@10 = curve(x) + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, x in enumerate(xs):
        for s in range(seeds):
            rows.append(
                {
                    "job": f"{i}_{s}",
                    "label": f"oracle(x={x:.2f})",
                    "miner": "oracle",
                    "seed": s,
                    "loss": "infonce",
                    "intelligence": x + rng.normal(0, 0.005),
                    "fn_rate": x / 2,
                    "test_ndcg10": curve(x) + rng.normal(0, noise),
                    "test_ndcg10_before": 0.3,
                }
            )
    return pd.DataFrame(rows)


def test_interior_optimum_is_found_and_covered() -> None:
    df = synthetic(lambda x: 0.5 - (x - 0.6) ** 2)
    fit = fit_laffer(df, n_boot=300, seed=0)
    assert fit["fitted"] and fit["degree"] == 2 and fit["interior"]
    assert fit["optimum"] == pytest.approx(0.6, abs=0.03)
    assert fit["ci"][0] < 0.6 < fit["ci"][1]
    assert fit["ci"][1] - fit["ci"][0] < 0.2
    assert fit["coefficients"][2] == pytest.approx(-1.0, abs=0.1)  # ascending powers
    assert fit["peak_beats_both_ends"] and fit["beats_low"] and fit["beats_high"]
    assert fit["statement"].startswith("Interior maximum:")
    assert fit["n_points"] == 30 and fit["n_labels"] == 10 and fit["n_boot"] == 300


def test_monotone_data_has_no_interior_maximum() -> None:
    df = synthetic(lambda x: 0.3 + 0.2 * x)
    fit = fit_laffer(df, n_boot=200, seed=0)
    assert not fit["interior"] and fit["optimum"] is None
    assert fit["fit_argmax"] == pytest.approx(fit["x_range"][1])
    assert fit["fit_argmax_ci"][0] == pytest.approx(fit["x_range"][1])
    assert not fit["peak_beats_both_ends"]
    assert fit["peak_label"] == fit["high_label"] == "oracle(x=1.00)"
    assert fit["statement"].startswith("No interior maximum:")
    assert "highest-intelligence" in fit["statement"]


def test_no_optimum_recorded_where_the_verdict_finds_no_interior_maximum() -> None:
    # the quadratic through a falling curve bends: its argmax (0.157) lies inside the range, but
    # the best point is the lowest-intelligence one, so there is no interior maximum to report
    xs, ys = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), (0.803, 0.802, 0.798, 0.790, 0.770, 0.745)
    ys = dict(zip(xs, ys, strict=True))
    rows = [
        {"job": f"{x}-{s}", "label": f"dial(x={x})", "miner": "dial", "seed": s,
         "loss": "infonce", "intelligence": x, "test_ndcg10": y + d}
        for x, y in ys.items()
        for s, d in enumerate((-0.002, 0.0, 0.002))
    ]  # fmt: skip
    fit = fit_laffer(pd.DataFrame(rows), n_boot=50)
    assert fit["statement"].startswith("No interior maximum:")
    assert 0.0 < fit["fit_argmax"] < 1.0  # the fit's bend, kept apart and named as such
    assert fit["interior"] is False and fit["optimum"] is None and fit["optimum_ndcg10"] is None
    assert all(math.isnan(v) for v in fit["ci"])


def test_points_repeating_another_seed_for_seed_count_once() -> None:
    # the twin above the base scorer's point: x = 0.8 and 1 ran on x = 0.6's negatives
    rows = []
    for x, ys in {
        0.0: (0.80, 0.81, 0.82),
        0.3: (0.83, 0.82, 0.84),
        0.6: (0.85, 0.86, 0.84),
    }.items():
        for s, y in enumerate(ys):
            rows.append({"label": f"dial(x={x})", "seed": s, "intelligence": x, "test_ndcg10": y})
    same = [dict(r, label=f"dial(x={x})", intelligence=x) for x in (0.8, 1.0) for r in rows[6:]]
    near = [dict(r, label="dial(x=0.9)", intelligence=0.9, test_ndcg10=r["test_ndcg10"] + 1e-9)
            for r in rows[6:]]  # fmt: skip
    df = pd.DataFrame(rows + same + near).assign(loss="infonce", miner="dial")
    df["job"] = range(len(df))
    assert identical_points(df) == {"dial(x=0.8)": "dial(x=0.6)", "dial(x=1.0)": "dial(x=0.6)"}
    fit = fit_laffer(df[df["label"] != "dial(x=0.9)"], n_boot=20)
    assert fit["n_labels"] == 3 and fit["n_points"] == 9
    assert fit["high_label"] == "dial(x=0.6)" == fit["peak_label"]  # the curve rises: no plateau
    assert fit["statement"].startswith("No interior maximum:")
    assert "dial(x=0.8), dial(x=1.0) repeat dial(x=0.6) seed for seed" in fit["statement"]
    # other seeds are other measurements, even with equal values
    other = df[df["label"].isin(["dial(x=0.6)", "dial(x=0.8)"])].copy()
    other.loc[other["label"] == "dial(x=0.8)", "seed"] += 3
    assert identical_points(other) == {}


def test_small_bump_is_not_significant() -> None:
    df = synthetic(lambda x: 0.4 + 0.002 * (x == 0.5), xs=[0.1, 0.5, 0.9], noise=0.02, seed=3)
    fit = fit_laffer(df, n_boot=100)
    verdict = fit["statement"].split(":")[0]
    assert verdict in ("No interior maximum", "No significant interior maximum")
    assert not fit["peak_beats_both_ends"]


def test_single_seed_is_undetermined() -> None:
    df = synthetic(lambda x: 0.5 - (x - 0.5) ** 2, xs=[0.1, 0.5, 0.9], seeds=1)
    fit = fit_laffer(df, n_boot=50)
    assert math.isnan(fit["threshold_low"])
    assert not fit["peak_beats_both_ends"]
    assert fit["statement"].startswith("Undetermined:")


def test_bootstrap_is_seeded() -> None:
    df = synthetic(lambda x: 0.5 - (x - 0.6) ** 2, noise=0.03)
    assert fit_laffer(df, n_boot=100, seed=1)["ci"] == fit_laffer(df, n_boot=100, seed=1)["ci"]
    assert fit_laffer(df, n_boot=100, unit="point")["n_boot"] == 100
    by_label = fit_laffer(df, n_boot=100, unit="label")
    assert by_label["bootstrap_unit"] == "label" and 0 < by_label["n_boot"] <= 100
    with pytest.raises(ValueError, match="unit"):
        fit_laffer(df, n_boot=10, unit="job")


def test_two_labels_fit_a_line_and_one_label_fits_nothing() -> None:
    two = synthetic(lambda x: 0.4 + 0.1 * x, xs=[0.2, 0.8])
    assert fit_laffer(two, n_boot=20)["degree"] == 1
    one = synthetic(lambda x: 0.4, xs=[0.5])
    fit = fit_laffer(one, n_boot=20)
    assert not fit["fitted"] and "fewer than 2 labels" in fit["reason"]


def test_labels_sharing_an_intelligence_count_once_for_the_degree() -> None:
    # random at 0.0; topk and percpos share MiniLM's ranking: three labels, two places
    df = synthetic(lambda x: 0.8 - 0.05 * x, xs=[0.0, 0.6])
    twin = df[df["intelligence"] > 0.3].assign(
        label="percpos", test_ndcg10=lambda d: d.test_ndcg10 + 0.01
    )
    df = pd.concat([df, twin], ignore_index=True)
    fit = fit_laffer(df, n_boot=20)
    assert fit["n_labels"] == 3 and fit["n_places"] == 2 and fit["degree"] == 1
    same = synthetic(lambda x: 0.4, xs=[0.5])
    same = pd.concat([same, same.assign(label="percpos")], ignore_index=True)
    assert not fit_laffer(same, n_boot=20)["fitted"]


def test_argmax_in_range() -> None:
    concave = np.array([0.0, 1.2, -1.0])  # 1.2 x - x^2: vertex at 0.6
    assert argmax_in_range(concave, 0.0, 1.0) == pytest.approx(0.6)
    assert argmax_in_range(concave, 0.7, 1.0) == pytest.approx(0.7)
    assert argmax_in_range(np.array([0.0, -1.0, 1.0]), 0.0, 0.8) == 0.0  # convex: an end
    assert argmax_in_range(np.array([0.0, 2.0]), 0.2, 0.9) == 0.9


def test_summarise_mean_and_standard_error() -> None:
    df = pd.DataFrame(
        {
            "job": ["a", "b", "c"],
            "label": ["topk", "topk", "random"],
            "miner": ["topk"] * 2 + ["random"],
            "loss": "infonce",
            "seed": [0, 1, 0],
            "intelligence": [0.8, 0.6, 0.1],
            "fn_rate": [0.5, 0.3, 0.0],
            "test_ndcg10": [0.40, 0.44, 0.5],
            "test_ndcg10_before": 0.3,
        }
    )
    s = summarise(df).set_index("label")
    assert list(s.index) == ["random", "topk"]  # by intelligence
    assert s.loc["topk", "n_seeds"] == 2 and s.loc["random", "n_seeds"] == 1
    assert s.loc["topk", "test_ndcg10_mean"] == pytest.approx(0.42)
    assert s.loc["topk", "test_ndcg10_se"] == pytest.approx(0.02)  # std 0.0283 / sqrt(2)
    assert s.loc["topk", "intelligence_se"] == pytest.approx(0.1)
    assert math.isnan(s.loc["random", "test_ndcg10_se"])


def test_peak_verdict_threshold() -> None:
    summary = pd.DataFrame(
        {
            "label": ["lo", "mid", "hi"],
            "intelligence_mean": [0.1, 0.5, 0.9],
            "test_ndcg10_mean": [0.40, 0.45, 0.43],
            "test_ndcg10_se": [0.01, 0.01, 0.01],
        }
    )
    v = peak_verdict(summary)
    assert v["peak_label"] == "mid" and v["low_label"] == "lo" and v["high_label"] == "hi"
    assert v["threshold_low"] == pytest.approx(2 * math.sqrt(2) * 0.01)
    assert v["beats_low"] and not v["beats_high"]  # 0.05 > 0.028 but 0.02 < 0.028
    assert not v["peak_beats_both_ends"]
    assert v["statement"].startswith("No significant interior maximum:")
    assert v["statement"].endswith("rises (a left side) and then levels off: no right side.")
    falls = summary.assign(test_ndcg10_mean=[0.43, 0.45, 0.40])
    assert "falls on the right" in peak_verdict(falls)["statement"]
