"""The completeness surface: optima per level, their bootstrap CI, the claim, the heat map."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zelo.analysis.plots import plot_surface, surface_matrix
from zelo.analysis.results import collect_results
from zelo.analysis.surface import (
    analyse_surface,
    completeness_claim,
    is_surface,
    level_optima,
    optimum_location,
)


def _level(values: dict[str, tuple[float, list[float]]], keep: float = 1.0) -> pd.DataFrame:
    """Jobs of one level: label -> (intelligence, test nDCG@10 per seed)."""
    rows = [
        {
            "label": label,
            "loss": "infonce",
            "keep_positives": keep,
            "seed": s,
            "intelligence": x,
            "test_ndcg10": y,
            "miner": label,
        }
        for label, (x, ys) in values.items()
        for s, y in enumerate(ys)
    ]
    return pd.DataFrame(rows)


def test_a_clear_optimum_has_a_tight_interval() -> None:
    rows = _level({"a": (0.2, [0.50, 0.52]), "b": (0.8, [0.40, 0.41])})
    ci, share = optimum_location(rows, 200, np.random.default_rng(0))
    assert ci == [pytest.approx(0.2), pytest.approx(0.2)] and share == 1.0


def test_a_close_race_spreads_the_interval() -> None:
    # a and b overlap: some resamples pick b (x = 0.8), some a (x = 0.2)
    rows = _level({"a": (0.2, [0.40, 0.50, 0.45]), "b": (0.8, [0.41, 0.49, 0.44])})
    ci, share = optimum_location(rows, 500, np.random.default_rng(0))
    assert ci == [pytest.approx(0.2), pytest.approx(0.8)] and 0.2 < share < 0.9


def test_single_seeds_give_no_interval() -> None:
    ci, share = optimum_location(
        _level({"a": (0.2, [0.5]), "b": (0.8, [0.4])}), 50, np.random.default_rng(0)
    )
    assert all(math.isnan(v) for v in ci) and math.isnan(share)


def test_level_optima_sparsest_first() -> None:
    df = pd.concat(
        [
            _level({"a": (0.2, [0.50, 0.52]), "b": (0.8, [0.40, 0.41])}, keep=1.0),
            _level({"a": (0.2, [0.40, 0.41]), "b": (0.8, [0.50, 0.52])}, keep=math.inf),
        ]
    )
    assert is_surface(df) and not is_surface(df[df["keep_positives"] == 1.0])
    optima = level_optima(df, n_boot=100)
    assert [o["completeness"] for o in optima] == ["1", "all"]
    assert [o["optimum_label"] for o in optima] == ["a", "b"]
    assert optima[0]["optimum_mean"] == pytest.approx(0.51)
    assert optima[0]["optimum_se"] == pytest.approx(0.01)
    claim = completeness_claim(optima)
    assert claim["verdict"] == "supported" and claim["monotone"]
    assert claim["statement"].startswith("Supported")


def _optima(*cis: tuple[float, float]) -> list[dict]:
    return [
        {
            "completeness": str(i),
            "optimum_label": "p",
            "optimum_intelligence": sum(ci) / 2,
            "ci": list(ci),
        }
        for i, ci in enumerate(cis)
    ]


@pytest.mark.parametrize(
    ("cis", "verdict", "start"),
    [
        (((0.1, 0.3), (0.5, 0.9)), "supported", "Supported"),
        (((0.1, 0.6), (0.5, 0.9)), "not supported", "Not supported: the optimum CIs"),
        (((0.6, 0.9), (0.1, 0.3)), "opposite", "Not supported, the opposite"),
        (((math.nan, math.nan), (0.1, 0.3)), "undetermined", "Undetermined"),
        (((0.1, 0.3),), "undetermined", "Undetermined"),
    ],
)
def test_claim_verdicts(cis, verdict, start) -> None:
    claim = completeness_claim(_optima(*cis))
    assert claim["verdict"] == verdict and claim["statement"].startswith(start)


def test_claim_notes_optima_out_of_order() -> None:
    claim = completeness_claim(_optima((0.1, 0.2), (0.8, 0.9), (0.4, 0.5)))
    assert claim["verdict"] == "supported" and not claim["monotone"]
    assert "not in order" in claim["statement"]


def test_surface_of_a_written_sweep(tmp_path: Path, make_dial_sweep) -> None:
    sweep = make_dial_sweep(tmp_path / "surface", keeps=(1, 4, None))
    df = collect_results(sweep)
    surface = analyse_surface(df, n_boot=200)
    record = surface["infonce"]
    # the fake sweep peaks at x = 1/3 (keep 1), 2/3 (keep 4) and the right end (all)
    assert [o["completeness"] for o in record["optima"]] == ["1", "4", "all"]
    assert record["optima"][0]["optimum_label"] == "dial(x=0.25)"
    assert record["optima"][0]["optimum_control"] == "scorer:dial"  # the dial reads judgments
    assert record["optima"][-1]["optimum_label"] == "dial(x=1.0)"
    assert record["claim"]["verdict"] == "supported"
    labels = {c["label"] for c in record["cells"]}
    assert "adaptive" not in labels and not any("drop_judged" in lab for lab in labels)
    matrix = surface_matrix(pd.DataFrame(record["cells"]))
    assert list(matrix.index) == [1.0, 4.0, math.inf]
    assert list(matrix.columns)[-1] == "dial(x=1.0)"  # by intelligence
    fig = plot_surface(surface)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 3 * 7 and all("±" in t for t in texts)
    assert fig.axes[0].get_yticklabels()[-1].get_text() == "all"
    assert len(fig.axes[0].patches) == 3  # each level's optimum outlined
    assert "Supported" in fig._suptitle.get_text()


def test_no_surface_without_two_levels(dial_sweep: Path) -> None:
    assert analyse_surface(collect_results(dial_sweep), n_boot=10) == {}
