"""Broken runs are refused: non-finite loss, gradient norm or weights, and empty mining passes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from zelo.analysis.results import SweepStatus, collect_results
from zelo.errors import TrainingDiverged
from zelo.pipeline import train
from zelo.run.guard import EmptyMining, check_mining, grad_norm, nonfinite_parameters


def test_grad_norm_counts_dense_and_sparse_gradients() -> None:
    dense = torch.tensor([3.0, 0.0])
    sparse = torch.sparse_coo_tensor([[0, 2]], [4.0, 12.0], (5,))  # values 4, 12
    assert grad_norm([dense, sparse]) == pytest.approx(13.0)  # sqrt(9 + 16 + 144)
    assert grad_norm([]) == 0.0
    assert math.isinf(grad_norm([torch.tensor([1.0, math.inf])]))
    assert math.isnan(grad_norm([torch.tensor([math.nan])]))


def test_nonfinite_parameters_are_named_and_counted() -> None:
    layer = torch.nn.Linear(2, 2)
    assert nonfinite_parameters(layer) == []
    with torch.no_grad():
        layer.weight[0, 0] = math.inf
        layer.weight[1, 1] = math.nan
    assert nonfinite_parameters(layer) == [("weight", 2)]


def test_a_pass_without_any_negative_is_an_error_unless_allowed() -> None:
    empty = torch.full((3, 2), -1)
    with pytest.raises(EmptyMining, match="all 3 training queries without a negative"):
        check_mining(empty, num_negatives=2, allow_empty=False)
    check_mining(empty, num_negatives=2, allow_empty=True)
    check_mining(empty[:, :0], num_negatives=0, allow_empty=False)  # none were asked for
    check_mining(torch.tensor([[-1, -1], [5, -1]]), num_negatives=2, allow_empty=False)


def test_a_diverging_run_stops_without_results(make_cfg, tmp_path: Path) -> None:
    # a finite learning rate (it passes the config check) that makes the scores overflow
    cfg = make_cfg("model.lr=1e30", "miner=random", "callbacks=none")
    with pytest.raises(TrainingDiverged) as err:
        train(cfg)
    assert str(err.value).startswith("training diverged at epoch 0, step ")
    assert not (tmp_path / "metrics.json").exists()
    assert not list(tmp_path.rglob("*.ckpt"))  # no checkpoint holds the broken weights
    failed = json.loads((tmp_path / "failed.json").read_text())
    assert failed["kind"] == "TrainingDiverged" and failed["exit_code"] == 3
    status = SweepStatus()
    assert collect_results(tmp_path, status).empty  # never a point of a plot
    assert status.failed == {".": failed["error"]}


def test_a_miner_that_finds_no_negative_stops_the_run(make_cfg, tmp_path: Path) -> None:
    # BM25 scores are unbounded, so the config check lets a huge margin through to the miner
    cfg = make_cfg(
        "miner=marginpos",
        "miner/scorer=bm25",
        "miner.rules.margin_pos.margin=1e9",
        "callbacks=none",
    )
    with pytest.raises(EmptyMining):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()
