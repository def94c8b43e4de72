from __future__ import annotations

import logging

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.sampling.samplers import TopSampler, UniformSampler, select_top, select_uniform
from zelo.types import MinedNegatives, MiningInput
from zelo.utils.tensors import isin_rows

T, F = True, False


TABLE = [
    [0.9, 0.5, 0.5, 0.1, 0.7],  # ties at 0.5: doc 1 ranks before doc 2
    [0.2, 0.8, 0.3, 0.6, 0.4],
    [0.0, 0.0, 0.0, 0.0, 0.0],
]


def _input(num_negatives: int = 2, seed: int = 0, positives=None) -> MiningInput:
    return MiningInput(
        query_texts=["q0", "q1", "q2"],
        doc_texts=[f"d{i}" for i in range(5)],
        positives=positives if positives is not None else [[0], [1, 3], []],
        num_negatives=num_negatives,
        seed=seed,
    )


def test_select_top_takes_first_kept_in_rank_order():
    keep = torch.tensor([[T, F, T, T], [F, F, F, F], [F, T, F, F]])
    assert select_top(keep, 2).tolist() == [[0, 2], [-1, -1], [1, -1]]
    assert select_top(keep, 6).tolist()[0] == [0, 2, 3, -1, -1, -1]  # n > K pads


def test_select_uniform_is_a_seeded_subset_in_rank_order():
    keep = torch.tensor([[T, F, T, T, T, T], [F] * 6, [F, T, F, F, F, F]])
    picks = select_uniform(keep, 3, torch.Generator().manual_seed(1))
    again = select_uniform(keep, 3, torch.Generator().manual_seed(1))
    assert torch.equal(picks, again)
    row = picks[0].tolist()
    assert row == sorted(row) and set(row) <= {0, 2, 3, 4, 5} and len(set(row)) == 3
    assert picks[1].tolist() == [-1, -1, -1] and picks[2].tolist() == [1, -1, -1]


def test_select_uniform_is_uniform():
    keep = torch.tensor([[T, F, T, T, T, T]]).repeat(4000, 1)
    picks = select_uniform(keep, 2, torch.Generator().manual_seed(0))
    freq = torch.bincount(picks.flatten(), minlength=6).float() / 4000
    assert freq[1] == 0
    torch.testing.assert_close(freq[[0, 2, 3, 4, 5]], torch.full((5,), 0.4), atol=0.04, rtol=0)


def test_isin_rows_ignores_padding():
    ids = torch.tensor([[3, -1, 1], [0, 2, -1]])
    positives = torch.tensor([[1, -1], [-1, -1]])
    assert isin_rows(ids, positives).tolist() == [[F, F, T], [F, F, F]]


def test_mine_excludes_positives_and_counts_them(fake_scorer):
    out = Miner(fake_scorer(TABLE), depth=4).mine(_input())
    # ranks: q0 [0, 4, 1, 2] (pos 0); q1 [1, 3, 4, 2] (pos 1, 3); q2 [0, 1, 2, 3]
    assert out.ranking.tolist() == [[0, 4, 1, 2], [1, 3, 4, 2], [0, 1, 2, 3]]
    assert out.neg_ids.tolist() == [[4, 1], [4, 2], [0, 1]]
    assert out.dropped == {"positive": 3}
    torch.testing.assert_close(out.neg_scores, torch.tensor([[0.7, 0.5], [0.4, 0.3], [0.0, 0.0]]))
    assert out.pos_scores[0, 0] == pytest.approx(0.9) and torch.isnan(out.pos_scores[0, 1])
    assert out.pos_scores[1].tolist() == pytest.approx([0.8, 0.6])
    assert out.num_short == 0


def test_short_rows_are_padded_and_logged(fake_scorer, caplog):
    with caplog.at_level(logging.WARNING):
        out = Miner(fake_scorer(TABLE), depth=3).mine(_input(num_negatives=3))
    # q1's top 3 are [1, 3, 4]: two positives, one negative left
    assert out.neg_ids[1].tolist() == [4, -1, -1]
    assert torch.isnan(out.neg_scores[1, 1:]).all()
    assert out.num_short == 2 and "fewer than 3" in caplog.text


def test_rules_count_only_what_they_remove(fake_scorer):
    miner = Miner(fake_scorer(TABLE), {"low": lambda c: c.scores >= 0.3}, depth=5)
    out = miner.mine(_input(num_negatives=5))
    assert out.neg_ids[0].tolist() == [4, 1, 2, -1, -1]  # 0 positive, 3 (0.1) dropped
    assert out.neg_ids[2].tolist() == [-1] * 5  # a fully filtered row
    # low: q0 doc 3; q1 doc 0 (0.2; doc 1, 3 already dropped as positives); q2 all 5
    assert out.dropped == {"positive": 3, "low": 7}


def test_keeping_positives_returns_them(fake_scorer):
    out = Miner(fake_scorer(TABLE), depth=2, exclude_positives=False).mine(_input())
    assert out.neg_ids[0].tolist() == [0, 4] and "positive" not in out.dropped


def test_uniform_sampling_is_seeded(fake_scorer):
    miner = Miner(fake_scorer(TABLE), depth=5, sampling=UniformSampler())
    a, b = miner.mine(_input(seed=3)), miner.mine(_input(seed=3))
    assert torch.equal(a.neg_ids, b.neg_ids)
    draws = {tuple(miner.mine(_input(seed=s)).neg_ids[2].tolist()) for s in range(10)}
    assert len(draws) > 1


def test_bad_arguments(fake_scorer):
    with pytest.raises(ValueError):
        Miner(fake_scorer(TABLE), depth=0)
    with pytest.raises(ValueError):
        TopSampler(range_max=0)
    with pytest.raises(ValueError):
        _input(positives=[[0]])
    assert isinstance(Miner(fake_scorer(TABLE)).mine(_input()), MinedNegatives)


def test_isin_rows_equals_brute_force_with_padding_and_repeats() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        ids = torch.randint(-1, 12, (6, 9), generator=g)
        pos = torch.randint(-1, 12, (6, 5), generator=g)  # -1 padding, repeated positives
        brute = ((ids.unsqueeze(-1) == pos.unsqueeze(1)) & (pos.unsqueeze(1) >= 0)).any(-1)
        assert torch.equal(isin_rows(ids, pos), brute)


def test_not_judged_drops_by_grade_hand_case() -> None:
    from zelo.mining.base import not_judged
    from zelo.types import CandidateSet

    # query 0 judges doc 4 at grade 2 and doc 7 at grade 1; query 1 judges doc 2 at grade 1
    ids = torch.tensor([[4, 7, 9, -1], [2, 5, 4, 8]])
    cands = CandidateSet(
        ids=ids,
        scores=torch.zeros(2, 4),
        pos_scores=torch.zeros(2, 1),
        keep=ids >= 0,
        positives=torch.tensor([[1], [3]]),
        judgments=[{1: 2, 4: 2, 7: 1}, {3: 1, 2: 1}],
    )
    every = not_judged(cands)
    assert every.tolist() == [[False, False, True, True], [False, True, True, True]]
    grade2 = not_judged(cands, min_grade=2)  # grade-1 false negatives stay candidates
    assert grade2.tolist() == [[False, True, True, True], [True, True, True, True]]
    with pytest.raises(ValueError, match="drop_min_grade"):
        not_judged(cands, min_grade=0)


def test_twin_by_grade_mines_lower_grades_and_is_a_labelled_control(fake_scorer) -> None:
    from dataclasses import replace

    from zelo.pipeline import control_label

    # q0 ranks [0, 4, 1, 2] (pos 0): doc 4 judged grade 1, doc 1 grade 2 -> the full twin takes
    # docs 2 and 3; the grade-2 twin keeps the grade-1 doc 4 and takes docs 4 and 2
    judged = replace(_input(), judgments=[{0: 2, 4: 1, 1: 2}, {1: 1, 3: 1}, {}])
    full = Miner(fake_scorer(TABLE), depth=5, drop_judged=True)
    graded = Miner(fake_scorer(TABLE), depth=5, drop_judged=True, drop_min_grade=2)
    assert full.mine(judged).neg_ids[0].tolist() == [2, 3]
    assert graded.mine(judged).neg_ids[0].tolist() == [4, 2]
    assert control_label(full, None) == "fn_free_twin"
    assert control_label(graded, None) == "fn_free_twin:grade>=2"
    with pytest.raises(ValueError, match="drop_min_grade"):
        Miner(fake_scorer(TABLE), drop_min_grade=0)
