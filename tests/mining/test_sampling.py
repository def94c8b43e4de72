from __future__ import annotations

import math

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.sampling.samplers import (
    SimANSSampler,
    TopSampler,
    UniformSampler,
    first_kept,
    gumbel_top_n,
    simans_logits,
)
from zelo.types import MiningInput

T, F = True, False


# q0: positive doc 0 (0.8); candidates 1..5; q1: no positive
TABLE = [[0.8, 0.75, 0.6, 0.5, 0.3, 0.1], [0.9, 0.7, 0.5, 0.3, 0.2, 0.1]]


def _input(seed: int = 0, n: int = 2) -> MiningInput:
    return MiningInput(["q0", "q1"], [f"d{i}" for i in range(6)], [[0], []], n, seed=seed)


def _weights(scores: list[float], pos: float, a: float, b: float) -> torch.Tensor:
    w = torch.tensor([math.exp(-a * (s - pos - b) ** 2) for s in scores], dtype=torch.float64)
    return w / w.sum()


def test_first_kept():
    keep = torch.tensor([[F, T, T, F, T, T], [T, F, F, F, F, F]])
    assert first_kept(keep, 2).tolist() == [[F, T, T, F, F, F], [T, F, F, F, F, F]]
    assert first_kept(keep, None) is keep


def test_range_max_limits_every_sampling(fake_scorer):
    top = Miner(fake_scorer(TABLE), depth=6, sampling=TopSampler(range_max=1)).mine(_input())
    assert top.neg_ids.tolist() == [[1, -1], [0, -1]]  # only one candidate eligible
    uni = Miner(fake_scorer(TABLE), depth=6, sampling=UniformSampler(range_max=3))
    seen = set()
    for seed in range(40):
        out = uni.mine(_input(seed))
        assert torch.equal(out.neg_ids, uni.mine(_input(seed)).neg_ids)
        seen.update(out.neg_ids[0].tolist())
    assert seen == {1, 2, 3}  # first three kept candidates of q0, never 4 or 5
    with pytest.raises(ValueError):
        UniformSampler(range_max=0)


def test_simans_logits_formula():
    scores = torch.tensor([[0.5, 0.3, 0.9], [0.1, 0.2, 0.3]])
    ref = torch.tensor([0.5, float("nan")])
    logits = simans_logits(scores, ref, a=2.0, b=-0.1)
    expected = [-2.0 * (s - 0.5 + 0.1) ** 2 for s in (0.5, 0.3, 0.9)]
    torch.testing.assert_close(logits[0], torch.tensor(expected, dtype=torch.float64))
    assert (logits[1] == 0).all()  # no reference positive: uniform


def _chi2(counts: torch.Tensor, probs: torch.Tensor, draws: int) -> float:
    expected = probs * draws
    return float(((counts - expected) ** 2 / expected).sum())


def test_simans_one_draw_follows_the_formula():
    scores, pos, a, b = [0.7, 0.6, 0.5, 0.4, 0.2], 0.65, 20.0, -0.05
    logits = simans_logits(torch.tensor([scores]), torch.tensor([pos]), a, b)
    keep = torch.ones(1, 5, dtype=torch.bool)
    counts = torch.zeros(5, dtype=torch.float64)
    for seed in range(3000):
        picked = gumbel_top_n(logits, keep, 1, torch.Generator().manual_seed(seed))
        counts += picked[0].double()
    assert _chi2(counts, _weights(scores, pos, a, b), 3000) < 18.5  # df 4, p = 0.001


def test_simans_two_draws_without_replacement():
    scores, pos, a = [0.7, 0.6, 0.5, 0.4, 0.2], 0.65, 20.0
    p = _weights(scores, pos, a, 0.0)
    # P(i in a sample of 2) = p_i + sum_{j != i} p_j p_i / (1 - p_j)
    incl = torch.stack(
        [p[i] + sum(p[j] * p[i] / (1 - p[j]) for j in range(5) if j != i) for i in range(5)]
    )
    rows = 4000
    logits = simans_logits(torch.tensor([scores] * rows), torch.full((rows,), pos), a, 0.0)
    picked = gumbel_top_n(
        logits, torch.ones(rows, 5, dtype=torch.bool), 2, torch.Generator().manual_seed(0)
    )
    assert (picked.sum(1) == 2).all()
    freq = picked.double().mean(0)
    torch.testing.assert_close(freq, incl, atol=0.03, rtol=0)


def test_simans_mining_is_seeded_and_respects_rules(fake_scorer):
    miner = Miner(fake_scorer(TABLE), depth=6, sampling=SimANSSampler(a=2.0))
    a, b = miner.mine(_input(seed=7, n=3)), miner.mine(_input(seed=7, n=3))
    assert torch.equal(a.neg_ids, b.neg_ids)
    assert 0 not in a.neg_ids[0].tolist()  # the positive is never sampled
    rows = {tuple(miner.mine(_input(seed=s, n=3)).neg_ids[0].tolist()) for s in range(20)}
    assert len(rows) > 1 and all(list(r) == sorted(r) for r in rows)  # rank order kept
    short = miner.mine(_input(n=7))
    assert short.neg_ids[0].tolist() == [1, 2, 3, 4, 5, -1, -1]
    with pytest.raises(ValueError):
        SimANSSampler(a=-1.0)
