from __future__ import annotations

import math

import pytest
import torch

from zelo.mining.scorers.elo import (
    bradley_terry,
    degrees,
    pairs_from_cycles,
    to_elo,
    win_probability,
)


@pytest.mark.parametrize(("n", "k"), [(2, 2), (3, 2), (7, 4), (30, 4), (31, 6)])
def test_cycles_graph_is_k_regular_without_self_loops(n, k):
    pairs = pairs_from_cycles(n, k, torch.Generator().manual_seed(0))
    assert pairs.shape == (n * k // 2, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert degrees(n, pairs).tolist() == [k] * n  # multi-edges counted


def test_cycles_graph_is_connected_seeded_and_degenerate_cases():
    pairs = pairs_from_cycles(12, 2, torch.Generator().manual_seed(3))
    reach, frontier = {0}, {0}
    while frontier:
        frontier = {
            int(b) for a, b in pairs.tolist() + pairs.flip(1).tolist() if a in frontier
        } - reach
        reach |= frontier
    assert reach == set(range(12))
    again = pairs_from_cycles(12, 2, torch.Generator().manual_seed(3))
    assert torch.equal(pairs, again)
    assert pairs_from_cycles(1, 4, torch.Generator()).shape == (0, 2)
    with pytest.raises(ValueError, match="even"):
        pairs_from_cycles(5, 3, torch.Generator())


def test_bradley_terry_three_players_by_hand():
    # strengths 4 : 2 : 1 -> P(0>1) = 2/3, P(1>2) = 2/3, P(0>2) = 4/5 (soft outcomes)
    pairs = torch.tensor([[0, 1], [1, 2], [0, 2]])
    wins = torch.tensor([2 / 3, 2 / 3, 4 / 5])
    theta = bradley_terry(3, pairs, wins, l2=1e-9)
    expected = torch.log(torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(theta, expected - expected.mean(), atol=1e-5, rtol=0)
    elo = to_elo(theta)
    assert elo[0] - elo[1] == pytest.approx(400 * math.log10(2), abs=1e-3)  # 120.41 points
    assert win_probability(elo[0], elo[2]).item() == pytest.approx(0.8, abs=1e-6)


def test_bradley_terry_cycle_of_wins_is_a_tie_and_prior_keeps_sweeps_finite():
    cyc = bradley_terry(3, torch.tensor([[0, 1], [1, 2], [2, 0]]), torch.ones(3), l2=1e-6)
    torch.testing.assert_close(cyc, torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    sweep = bradley_terry(2, torch.tensor([[0, 1]] * 3), torch.ones(3), l2=1e-2)
    # stationary point by hand: 3 (1 - sigmoid(2 t)) = l2 t for t = theta_0 = -theta_1
    t = sweep[0].item()
    assert sweep.sum().abs() < 1e-9 and 3 * (1 - 1 / (1 + math.exp(-2 * t))) == pytest.approx(
        1e-2 * t, rel=1e-6
    )
    assert bradley_terry(1, torch.zeros(0, 2, dtype=torch.long), torch.zeros(0)).tolist() == [0.0]


def test_bradley_terry_recovers_known_strengths_from_simulated_games():
    gen = torch.Generator().manual_seed(0)
    n = 10
    true = torch.linspace(-2.0, 2.0, n, dtype=torch.float64)
    pairs = torch.cat([pairs_from_cycles(n, 20, gen) for _ in range(10)])  # 1000 games
    p = torch.sigmoid(true[pairs[:, 0]] - true[pairs[:, 1]])
    wins = (torch.rand(len(pairs), generator=gen, dtype=torch.float64) < p).double()
    theta = bradley_terry(n, pairs, wins, l2=1e-3)
    assert (theta - true).abs().max() < 0.35
    assert torch.equal(theta.argsort(), torch.arange(n))
