from __future__ import annotations

import torch

from zelo.mining.base import Miner
from zelo.mining.scorers.random_scorer import RandomScorer, random_row
from zelo.types import MiningInput


def _input(seed: int = 0, n: int = 50, q: int = 4) -> MiningInput:
    return MiningInput(
        query_texts=[f"q{i}" for i in range(q)],
        doc_texts=[f"d{i}" for i in range(n)],
        positives=[[i, i + 1] for i in range(q)],
        num_negatives=5,
        seed=seed,
    )


def test_rank_is_a_seeded_random_ranking_consistent_with_score():
    inp = _input()
    ids, scores = RandomScorer().rank(inp, 10)
    assert ids.shape == scores.shape == (4, 10)
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first
    assert all(len(set(row)) == 10 for row in ids.tolist())
    torch.testing.assert_close(RandomScorer().score(inp, ids), scores)
    assert torch.equal(RandomScorer().rank(inp, 10)[0], ids)
    assert not torch.equal(RandomScorer().rank(_input(seed=1), 10)[0], ids)
    assert not torch.equal(ids[0], ids[1])  # each query its own ranking


def test_rank_covers_the_corpus_and_pads_past_it():
    ids, scores = RandomScorer().rank(_input(n=6), 8)
    assert sorted(ids[0, :6].tolist()) == list(range(6))
    assert (ids[:, 6:] == -1).all() and torch.isinf(scores[:, 6:]).all()


def test_score_is_stable_per_seed_query_doc_and_nan_padded():
    inp = _input()
    out = RandomScorer().score(inp, torch.tensor([[3, -1], [3, 7], [-1, -1], [0, 0]]))
    assert out[0, 0] == random_row(0, 0, 50)[3].float()
    assert torch.isnan(out[0, 1]) and torch.isnan(out[2]).all()
    assert out[3, 0] == out[3, 1]


def test_random_miner_excludes_positives_and_is_seeded():
    miner = Miner(RandomScorer(), depth=20)
    a, b = miner.mine(_input()), miner.mine(_input())
    assert miner.name == "random" and isinstance(miner.scorer, RandomScorer)
    assert torch.equal(a.neg_ids, b.neg_ids)
    for i, row in enumerate(a.neg_ids.tolist()):
        assert len(row) == 5 and not {i, i + 1} & set(row) and min(row) >= 0
    assert a.ranking.shape == (4, 20) and not torch.isnan(a.pos_scores).any()


def test_random_negatives_are_spread_over_the_corpus():
    inp = _input(n=20, q=400)
    inp.positives = [[] for _ in range(400)]
    neg = Miner(RandomScorer(), depth=20).mine(inp).neg_ids
    freq = torch.bincount(neg.flatten(), minlength=20).float() / neg.numel()
    assert freq.min() > 0.03 and freq.max() < 0.07  # uniform is 0.05
