from __future__ import annotations

import pytest
import torch

from zelo.mining.base import MiningInput
from zelo.mining.shifted import ShiftedMiner, shift_mask

T, F = True, False


class FakeScorer:
    """Fixed scores ``[Q, N]``; ranks with ties broken by the lower doc id."""

    name = "fake"

    def __init__(self, table: list[list[float]]) -> None:
        self.table = torch.tensor(table)

    def rank(self, inp, depth):
        order = self.table.argsort(dim=1, descending=True, stable=True)[:, :depth]
        return order, torch.gather(self.table, 1, order)

    def score(self, inp, doc_ids):
        vals = torch.gather(self.table, 1, doc_ids.clamp(min=0))
        return torch.where(doc_ids >= 0, vals, torch.full_like(vals, float("nan")))


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


def test_shift_counts_only_valid_candidates():
    valid = torch.tensor([[F, T, T, F, T, T], [T, T, F, F, F, F], [F] * 6])
    assert shift_mask(valid, 2).tolist() == [
        [T, F, F, T, T, T],
        [F, F, T, T, T, T],
        [T] * 6,
    ]
    assert shift_mask(valid, 0).all()
    with pytest.raises(ValueError):
        shift_mask(valid, -1)


def test_shifted_miner_skips_after_positive_exclusion():
    out = ShiftedMiner(FakeScorer(TABLE), shift=2, depth=6).mine(_input())
    # q0: valid 1 2 3 4 5 -> skip 1 2; q1: valid 4 5 0 2 -> skip 4 5; q2: skip 0 1
    assert out.neg_ids.tolist() == [[3, 4], [0, 2], [2, 3]]
    assert out.dropped == {"positive": 3, "shift": 6}
    torch.testing.assert_close(out.neg_scores, torch.tensor([[0.5, 0.4], [0.3, 0.2], [0.5, 0.5]]))


def test_shift_past_the_candidates_empties_rows():
    out = ShiftedMiner(FakeScorer(TABLE), shift=4, depth=6).mine(_input())
    # q0 keeps 5 only; q1 has exactly 4 valid candidates: fully filtered; q2 keeps 4 5
    assert out.neg_ids.tolist() == [[5, -1], [-1, -1], [4, 5]]
    assert torch.isnan(out.neg_scores[1]).all()
    assert out.dropped == {"positive": 3, "shift": 12}
    assert out.num_short == 2


def test_shifted_miner_name_and_bad_shift():
    assert ShiftedMiner(FakeScorer(TABLE)).shift == 10
    assert ShiftedMiner(FakeScorer(TABLE)).name == "shifted"
    with pytest.raises(ValueError):
        ShiftedMiner(FakeScorer(TABLE), shift=-1)
