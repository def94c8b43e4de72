from __future__ import annotations

from functools import partial

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.rules.shifted import shift_mask
from zelo.types import MiningInput

T, F = True, False


TABLE = [
    [0.9, 0.8, 0.8, 0.5, 0.4, 0.1],  # ranks 0 1 2 3 4 5 (1, 2 tied)
    [0.3, 0.7, 0.2, 0.9, 0.6, 0.5],  # ranks 3 1 4 5 0 2
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # all tied: ranks 0 1 2 3 4 5
]
POSITIVES = [[0], [3, 1], []]  # uneven: 1, 2 and 0 positives


def _input(num_negatives: int = 2) -> MiningInput:
    return MiningInput(
        query_texts=["q0", "q1", "q2"],
        doc_texts=[f"d{i}" for i in range(6)],
        positives=POSITIVES,
        num_negatives=num_negatives,
    )


def _miner(scorer, shift: int) -> Miner:
    return Miner(scorer, {"shift": partial(shift_mask, shift=shift)}, depth=6)


def test_shift_counts_only_valid_candidates(candidate_set):
    valid = candidate_set(torch.zeros(3, 6), keep=[[F, T, T, F, T, T], [T, T, F, F, F, F], [F] * 6])
    assert shift_mask(valid, 2).tolist() == [
        [T, F, F, T, T, T],
        [F, F, T, T, T, T],
        [T] * 6,
    ]
    assert shift_mask(valid, 0).all()
    with pytest.raises(ValueError):
        shift_mask(valid, -1)


def test_shifted_miner_skips_after_positive_exclusion(fake_scorer):
    out = _miner(fake_scorer(TABLE), 2).mine(_input())
    # q0: valid 1 2 3 4 5 -> skip 1 2; q1: valid 4 5 0 2 -> skip 4 5; q2: skip 0 1
    assert out.neg_ids.tolist() == [[3, 4], [0, 2], [2, 3]]
    assert out.dropped == {"positive": 3, "shift": 6}
    torch.testing.assert_close(out.neg_scores, torch.tensor([[0.5, 0.4], [0.3, 0.2], [0.5, 0.5]]))


def test_shift_past_the_candidates_empties_rows(fake_scorer):
    out = _miner(fake_scorer(TABLE), 4).mine(_input())
    # q0 keeps 5 only; q1 has exactly 4 valid candidates: fully filtered; q2 keeps 4 5
    assert out.neg_ids.tolist() == [[5, -1], [-1, -1], [4, 5]]
    assert torch.isnan(out.neg_scores[1]).all()
    assert out.dropped == {"positive": 3, "shift": 12}
    assert out.num_short == 2


def test_shifted_default_and_bad_shift(candidate_set):
    cands = candidate_set(torch.zeros(1, 12))
    assert shift_mask(cands).sum() == 2  # skips 10 by default
    with pytest.raises(ValueError):
        shift_mask(cands, -1)
