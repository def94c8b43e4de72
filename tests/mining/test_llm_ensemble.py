from __future__ import annotations

import logging

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.scorers.elo import degrees
from zelo.mining.scorers.judges import SimulatedJudge
from zelo.mining.scorers.llm_ensemble import LLMEnsembleScorer, comparison_graph
from zelo.types import MiningInput


def _input(q: int = 4, n: int = 40, seed: int = 0) -> MiningInput:
    """Query q: docs 0..9 graded 3, 2, 2, 1, 1, 1, 0.. shifted by q; positive = the grade-3 doc."""
    grades = [3, 2, 2, 1, 1, 1]
    judgments = [{(q + i) % n: g for i, g in enumerate(grades)} for q in range(q)]
    return MiningInput(
        [f"query {i}" for i in range(q)],
        [f"doc {d}" for d in range(n)],
        [[i] for i in range(q)],
        3,
        seed=seed,
        judgments=judgments,
    )


def _first_stage(fake_scorer, q: int = 4, n: int = 40):
    return fake_scorer(torch.rand(q, n, generator=torch.Generator().manual_seed(5)))


def test_comparison_graph_per_query_is_regular_and_offset():
    pool = torch.tensor([[4, 7, 9, 1, 2], [3, 8, 6, -1, -1]])
    queries, local, offsets = comparison_graph(pool, 4, seed=0)
    assert offsets.tolist() == [0, 10, 16]
    assert (queries[:10] == 0).all() and (queries[10:] == 1).all()
    assert degrees(5, local[:10]).tolist() == [4] * 5
    assert degrees(3, local[10:]).tolist() == [4] * 3


def test_error_free_judges_recover_the_graded_order_of_the_candidates(fake_scorer):
    # 8 candidates per query with distinct grades; degree 40 compares nearly every pair, so the
    # error-free votes pin down the whole order (a sparse graph cannot: n log n comparisons)
    n = 8
    judgments = [{(q + i) % n: n - i for i in range(n)} for q in range(3)]
    inp = MiningInput(
        ["a", "b", "c"],
        [f"d{i}" for i in range(n)],
        [[q] for q in range(3)],
        2,
        judgments=judgments,
    )
    judges = [SimulatedJudge(0.0, seed=s) for s in range(3)]
    ids, _ = LLMEnsembleScorer(
        judges, _first_stage(fake_scorer, 3, n), candidates=n, degree=40
    ).rank(inp, n)
    for q, row in enumerate(ids.tolist()):
        assert [judgments[q][d] for d in row] == list(range(n, 0, -1))


def test_error_free_judges_at_the_default_degree_sort_grade_levels_mostly(fake_scorer):
    from zelo.eval.metrics import mean_ndcg

    inp = _input()
    judges = [SimulatedJudge(0.0, seed=s) for s in range(3)]
    first = _first_stage(fake_scorer)
    ids, _ = LLMEnsembleScorer(judges, first, candidates=40, degree=4).rank(inp, 40)
    ndcg = mean_ndcg(ids, inp.judgments)
    assert ndcg > 0.75 and ndcg > mean_ndcg(first.rank(inp, 40)[0], inp.judgments) + 0.4


def test_rank_keeps_first_stage_candidates_and_scores_positives_and_outsiders(fake_scorer):
    inp = _input()
    first = _first_stage(fake_scorer)
    scorer = LLMEnsembleScorer({"j": SimulatedJudge(0.1)}, first, candidates=8, degree=4)
    ids, scores = scorer.rank(inp, 10)
    cands = first.rank(inp, 8)[0]
    assert all(
        sorted(a[:8]) == sorted(b) for a, b in zip(ids.tolist(), cands.tolist(), strict=True)
    )
    assert (ids[:, 8:] == -1).all()
    torch.testing.assert_close(scorer.score(inp, ids[:, :8]), scores[:, :8])
    pos = scorer.score(inp, inp.positives_padded())
    assert torch.isfinite(pos).all()  # compared even when the first stage missed them
    outsider = [next(d for d in range(40) if d not in cands[q] and d != q) for q in range(4)]
    out = scorer.score(inp, torch.tensor(outsider)[:, None])[:, 0]
    fit = scorer.fit(inp)
    torch.testing.assert_close(out, fit.elo.masked_fill(fit.pool < 0, float("inf")).amin(1) - 400)
    assert scorer.info["llm_judge_calls"] == scorer.info["llm_comparisons"]


def test_seeded_determinism(fake_scorer):
    inp = _input()

    def ranking(seed: int, judge_seed: int = 0):
        judges = [SimulatedJudge(0.3, seed=judge_seed), SimulatedJudge(0.3, seed=judge_seed + 1)]
        return LLMEnsembleScorer(judges, _first_stage(fake_scorer), candidates=12, seed=seed).rank(
            inp, 12
        )[0]

    assert torch.equal(ranking(0), ranking(0))
    assert not torch.equal(ranking(0), ranking(1))
    assert not torch.equal(ranking(0), ranking(0, judge_seed=7))


def test_simulated_judge_votes_and_says_it_is_simulated(fake_scorer, caplog):
    inp = _input(q=1)
    votes = SimulatedJudge(0.0).compare(
        inp, torch.tensor([0, 0, 0]), torch.tensor([0, 3, 20]), torch.tensor([1, 0, 21])
    )
    assert votes[:2].tolist() == [1.0, 0.0]  # grade 3 beats 2; grade 1 loses to 3
    always_wrong = SimulatedJudge(1.0).compare(
        inp, torch.tensor([0]), torch.tensor([0]), torch.tensor([1])
    )
    assert always_wrong.tolist() == [0.0]
    with caplog.at_level(logging.INFO, logger="zelo.mining.scorers.llm_ensemble"):
        Miner(
            LLMEnsembleScorer([SimulatedJudge()], _first_stage(fake_scorer, q=1), candidates=6),
            depth=6,
        ).mine(inp)
    assert "SIMULATED" in caplog.text
    with pytest.raises(ValueError, match="judgments"):
        SimulatedJudge().compare(
            MiningInput(["q"], ["a", "b"], [[0]], 1),
            torch.tensor([0]),
            torch.tensor([0]),
            torch.tensor([1]),
        )


def test_config_uses_three_simulated_judges(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg("miner=llm_ensemble", "miner.scorer.first_stage.encoder=null")
    miner = instantiate(cfg.miner)
    judges = miner.scorer.judges
    assert [type(j).__name__ for j in judges.values()] == ["SimulatedJudge"] * 3
    assert [j.error_rate for j in judges.values()] == [0.1, 0.15, 0.2]
