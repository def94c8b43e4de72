from __future__ import annotations

from functools import partial

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.rules.perc_pos import perc_pos_mask
from zelo.types import MiningInput

T, F = True, False
NAN, INF = float("nan"), float("inf")


SCORES = torch.tensor(
    [
        [1.0, 0.5, 0.375, 0.25, 0.25],
        [-0.375, -0.75, -0.875, -INF, -INF],
        [1.0, 0.5, 0.375, 0.25, 0.25],
    ]
)
POS = torch.tensor([[0.75, 0.5, NAN], [-0.5, NAN, NAN], [NAN, NAN, NAN]])


@pytest.mark.parametrize(
    ("reduce", "row0"),
    [
        ("min", [F, F, F, T, T]),  # s+ 0.5: drop > 0.25 (ties at 0.25 kept)
        ("max", [F, F, T, T, T]),  # s+ 0.75: drop > 0.375
        ("mean", [F, F, F, T, T]),  # s+ 0.625: drop > 0.3125
    ],
)
def test_perc_pos_mask(candidate_set, reduce, row0):
    keep = perc_pos_mask(candidate_set(SCORES, POS), 0.5, reduce)
    assert keep[0].tolist() == row0
    # s+ = -0.5: threshold -0.5 - 0.25 = -0.75 (s+ * 0.5 = -0.25 would keep -0.375 > s+)
    assert keep[1].tolist() == [F, T, T, T, T]
    assert keep[2].all()  # no scored positive: nothing dropped


TABLE = [
    [1.0, 0.5, 0.375, 0.25, 0.25, 0.125],
    [0.5, 0.25, 0.125, 0.75, 0.0625, 0.0],
    [0.5, 0.5, 0.25, 0.25, 0.125, 0.0],
    [0.125, 0.25, 0.5, 0.375, 0.0, 0.0],
]
POSITIVES = [[0, 1], [3], [5], []]  # 2, 1, 1 and 0 positives


def _miner(scorer, **rule) -> Miner:
    return Miner(scorer, {"perc_pos": partial(perc_pos_mask, **rule)}, depth=6)


def _input() -> MiningInput:
    return MiningInput(
        query_texts=[f"q{i}" for i in range(4)],
        doc_texts=[f"d{i}" for i in range(6)],
        positives=POSITIVES,
        num_negatives=2,
    )


def test_perc_pos_miner(fake_scorer):
    out = _miner(fake_scorer(TABLE), percentage=0.5).mine(_input())
    # q0: s+ min(1.0, 0.5) -> drop > 0.25: doc 2; docs 3, 4 tie at 0.25 and stay
    # q1: s+ 0.75 -> drop > 0.375: doc 0; q2: s+ 0.0 -> all five dropped; q3: no positive
    assert out.neg_ids.tolist() == [[3, 4], [1, 2], [-1, -1], [2, 3]]
    assert out.dropped == {"positive": 4, "perc_pos": 7}
    assert out.num_short == 1 and (out.neg_ids[2] == -1).all()


def test_perc_pos_miner_mean(fake_scorer):
    miner = _miner(fake_scorer(TABLE), percentage=0.5, pos_reduce="mean")
    out = miner.mine(_input())
    # q0: s+ 0.75 -> drop > 0.375: nothing among the non-positives (2 is at 0.375)
    assert out.neg_ids[0].tolist() == [2, 3]
    assert out.dropped == {"positive": 4, "perc_pos": 6}


def test_perc_pos_defaults_and_bad_reduce(candidate_set):
    cands = candidate_set(SCORES, POS)
    assert torch.equal(perc_pos_mask(cands), perc_pos_mask(cands, 0.95, "min"))
    with pytest.raises(ValueError):
        perc_pos_mask(cands, pos_reduce="median")
