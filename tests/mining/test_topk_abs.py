from __future__ import annotations

from functools import partial

import torch

from zelo.mining.base import Miner
from zelo.mining.rules.topk_abs import abs_mask
from zelo.types import MiningInput

T, F = True, False


TABLE = [
    [0.9, 0.75, 0.7, 0.7, 0.3],  # 2 and 3 tied at the threshold: kept
    [0.8, 0.95, 0.72, 0.6, 0.5],
    [0.71, 0.9, 0.8, 0.75, 0.85],  # everything above 0.7: fully filtered
]


def _input() -> MiningInput:
    return MiningInput(
        query_texts=["q0", "q1", "q2"],
        doc_texts=[f"d{i}" for i in range(5)],
        positives=[[0], [1, 0], []],
        num_negatives=2,
    )


def test_abs_mask_keeps_ties_and_padding(candidate_set):
    scores = torch.tensor([[0.9, 0.7, 0.7, 0.1], [0.5, float("-inf"), float("-inf"), 0.0]])
    assert abs_mask(candidate_set(scores), 0.7).tolist() == [[F, T, T, T], [T, T, T, T]]


def test_min_score_drops_below_and_keeps_ties_and_padding(candidate_set):
    scores = torch.tensor([[0.9, 0.7, 0.2, 0.1], [0.5, float("-inf"), float("-inf"), 0.0]])
    keep = abs_mask(candidate_set(scores), 0.7, min_score=0.2).tolist()
    assert keep == [[F, T, T, F], [T, T, T, F]]
    only_min = abs_mask(candidate_set(scores), float("inf"), min_score=0.5).tolist()
    assert only_min == [[T, T, F, F], [T, T, T, F]]


def test_topk_abs_miner(fake_scorer):
    out = Miner(fake_scorer(TABLE), {"abs": partial(abs_mask, max_score=0.7)}, depth=5).mine(
        _input()
    )
    # q0: 0 positive, 1 (0.75) dropped; q1: 1, 0 positives, 2 (0.72) dropped; q2: all dropped
    assert out.neg_ids.tolist() == [[2, 3], [3, 4], [-1, -1]]
    assert out.dropped == {"positive": 3, "abs": 7}
    assert torch.isnan(out.neg_scores[2]).all() and out.num_short == 1
    assert out.pos_scores[1].tolist() == [torch.tensor(0.95).item(), torch.tensor(0.8).item()]


def test_topk_abs_default_threshold(candidate_set):
    cands = candidate_set(torch.tensor([[0.71, 0.7]]))
    assert abs_mask(cands).tolist() == [[F, T]]  # 0.7 by default
