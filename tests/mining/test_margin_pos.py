from __future__ import annotations

from functools import partial

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.rules.margin_pos import margin_pos_mask
from zelo.types import MiningInput

T, F = True, False
NAN, INF = float("nan"), float("inf")


# dyadic values: every sum below is exact in float32
SCORES = torch.tensor(
    [
        [0.875, 0.75, 0.625, 0.5, 0.5],
        [0.5, 0.375, 0.25, 0.25, -INF],  # -inf: a padded candidate
        [0.875, 0.75, 0.625, 0.5, 0.5],
    ]
)
POS = torch.tensor([[0.75, 0.875, NAN], [0.5, NAN, NAN], [NAN, NAN, NAN]])


@pytest.mark.parametrize(
    ("reduce", "row0"),
    [
        ("min", [F, F, T, T, T]),  # s+ 0.75: drop > 0.625; 0.625 itself is kept
        ("max", [F, T, T, T, T]),  # s+ 0.875: drop > 0.75
        ("mean", [F, F, T, T, T]),  # s+ 0.8125: drop > 0.6875
    ],
)
def test_margin_pos_mask(candidate_set, reduce, row0):
    keep = margin_pos_mask(candidate_set(SCORES, POS), 0.125, reduce)
    assert keep[0].tolist() == row0
    assert keep[1].tolist() == [F, T, T, T, T]  # one positive (0.5): drop > 0.375
    assert keep[2].all()  # no scored positive: nothing dropped


TABLE = [
    [0.875, 0.75, 0.625, 0.5, 0.5, 0.25],
    [0.25, 0.5, 0.4375, 0.125, 0.0, 0.0],
    [0.5, 0.5, 0.25, 0.25, 0.125, 0.0],
    [0.125, 0.25, 0.5, 0.375, 0.0, 0.0],
]
POSITIVES = [[0, 2], [1], [5], []]  # 2, 1, 1 and 0 positives


def _miner(scorer, **rule) -> Miner:
    return Miner(scorer, {"margin_pos": partial(margin_pos_mask, **rule)}, depth=6)


def _input() -> MiningInput:
    return MiningInput(
        query_texts=[f"q{i}" for i in range(4)],
        doc_texts=[f"d{i}" for i in range(6)],
        positives=POSITIVES,
        num_negatives=2,
    )


def test_margin_pos_miner_min(fake_scorer):
    out = _miner(fake_scorer(TABLE), margin=0.125).mine(_input())
    # q0: s+ min(0.875, 0.625) -> drop > 0.5: doc 1; doc 3, 4 tie at 0.5 and stay
    # q1: s+ 0.5 -> drop > 0.375: doc 2; q2: s+ 0.0 -> all five dropped; q3: no positive
    assert out.neg_ids.tolist() == [[3, 4], [0, 3], [-1, -1], [2, 3]]
    assert out.dropped == {"positive": 4, "margin_pos": 7}
    assert out.num_short == 1 and torch.isnan(out.neg_scores[2]).all()
    assert torch.isnan(out.pos_scores[1, 1]) and torch.isnan(out.pos_scores[3]).all()


def test_margin_pos_miner_max(fake_scorer):
    out = _miner(fake_scorer(TABLE), margin=0.125, pos_reduce="max").mine(_input())
    # q0: s+ 0.875 -> drop > 0.75: nothing among the non-positives
    assert out.neg_ids[0].tolist() == [1, 3]
    assert out.dropped == {"positive": 4, "margin_pos": 6}


def test_margin_pos_defaults_and_bad_reduce(candidate_set):
    cands = candidate_set(SCORES, POS)
    assert torch.equal(margin_pos_mask(cands), margin_pos_mask(cands, 0.05, "min"))
    with pytest.raises(ValueError):
        margin_pos_mask(cands, pos_reduce="median")
