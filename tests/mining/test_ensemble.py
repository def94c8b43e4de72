from __future__ import annotations

import pytest
import torch

from zelo.mining.scorers.ensemble import (
    EnsembleScorer,
    minmax_stats,
    rrf_scores,
    zscore_scores,
    zscore_stats,
)
from zelo.types import MiningInput


def _input(q: int = 1, n: int = 5) -> MiningInput:
    return MiningInput(
        [f"q{i}" for i in range(q)], [f"d{i}" for i in range(n)], [[0] for _ in range(q)], 2
    )


def test_rrf_of_two_rankings_by_hand():
    a = torch.tensor([[10, 11, 12]])
    b = torch.tensor([[11, 12, 13]])
    out = rrf_scores(torch.tensor([[10, 11, 12, 13, 14, -1]]), [a, b], [1.0, 1.0], rrf_k=60)
    expected = [1 / 61, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 1 / 63, 0.0]
    torch.testing.assert_close(out[0, :5], torch.tensor(expected))
    assert torch.isnan(out[0, 5])
    weighted = rrf_scores(torch.tensor([[10, 13]]), [a, b], [2.0, 0.5], rrf_k=0)
    torch.testing.assert_close(weighted, torch.tensor([[2.0, 0.5 / 3]]))


def test_zscore_fusion_by_hand():
    s1 = torch.tensor([[1.0, 2.0, 3.0]])
    s2 = torch.tensor([[3.0, 3.0, 0.0]])
    valid = torch.ones(1, 3, dtype=torch.bool)
    stats = [zscore_stats(s1, valid), zscore_stats(s2, valid)]
    out = zscore_scores([s1, s2], stats, [1.0, 1.0])
    z1 = [-1.224745, 0.0, 1.224745]  # population std sqrt(2/3)
    z2 = [0.707107, 0.707107, -1.414214]  # population std sqrt(2)
    torch.testing.assert_close(out[0], torch.tensor(z1) + torch.tensor(z2), rtol=0, atol=1e-5)
    mean, std = zscore_stats(torch.tensor([[4.0, 4.0, 9.0]]), torch.tensor([[True, True, False]]))
    assert mean.item() == 4.0 and std.item() == 1.0  # constant row: std taken as 1


def test_minmax_fusion_by_hand():
    s1 = torch.tensor([[1.0, 2.0, 5.0, 9.0]])  # the last entry is padding
    s2 = torch.tensor([[0.2, 0.6, 0.4, -9.0]])
    valid = torch.tensor([[True, True, True, False]])
    stats = [minmax_stats(s1, valid), minmax_stats(s2, valid)]
    out = zscore_scores([s1, s2], stats, [1.0, 2.0])
    # s1 -> (s - 1) / 4 = 0, 0.25, 1; s2 -> (s - 0.2) / 0.4 = 0, 1, 0.5; weights 1 and 2
    torch.testing.assert_close(out[0, :3], torch.tensor([0.0, 2.25, 2.0]))
    low, span = minmax_stats(torch.tensor([[3.0, 3.0]]), torch.ones(1, 2, dtype=torch.bool))
    assert low.item() == 3.0 and span.item() == 1.0  # constant row: span taken as 1


def test_minmax_ensemble_ranks_by_the_weighted_normalised_sum(fake_scorer):
    first = fake_scorer([[5, 4, 3, 2, 1]])  # min-max: 1, .75, .5, .25, 0
    second = fake_scorer([[0, 10, 0, 0, 2]])  # min-max: 0, 1, 0, 0, .2
    ens = EnsembleScorer([first, second], fusion="minmax", candidates=5)
    ids, scores = ens.rank(_input(), 5)
    assert ids[0].tolist() == [1, 0, 2, 3, 4]  # 1.75, 1, .5, .25, .2
    torch.testing.assert_close(scores[0], torch.tensor([1.75, 1.0, 0.5, 0.25, 0.2]))
    assert ens.softmax_temperature == 0.05


def test_rrf_ensemble_ranks_the_union_and_scores_consistently(fake_scorer):
    first = fake_scorer([[5, 4, 3, 2, 1]], "a")  # ranking 0 1 2 3 4
    second = fake_scorer([[1, 5, 4, 3, 2]], "b")  # ranking 1 2 3 4 0
    ens = EnsembleScorer({"a": first, "b": second}, candidates=3)
    ids, scores = ens.rank(_input(), 6)
    assert ids[0].tolist() == [1, 2, 0, 3, -1, -1]  # union of {0,1,2} and {1,2,3}
    torch.testing.assert_close(ens.score(_input(), ids[:, :4]), scores[:, :4])
    assert ens.score(_input(), torch.tensor([[4]])).item() == 0.0  # in no list
    assert first.rank_calls == 1  # the candidate lists are memoised per input


def test_weights_and_zscore_fusion_follow_the_stronger_scorer(fake_scorer):
    first = fake_scorer([[5, 4, 3, 2, 1]])
    second = fake_scorer([[1, 2, 3, 4, 5]])
    ens = EnsembleScorer([first, second], fusion="zscore", weights=[3.0, 1.0], candidates=5)
    assert ens.rank(_input(), 5)[0][0].tolist() == [0, 1, 2, 3, 4]
    flipped = EnsembleScorer([first, second], fusion="zscore", weights=[1.0, 3.0], candidates=5)
    assert flipped.rank(_input(), 5)[0][0].tolist() == [4, 3, 2, 1, 0]


def test_bad_arguments_name_the_key(fake_scorer):
    with pytest.raises(ValueError, match="fusion"):
        EnsembleScorer([fake_scorer([[1.0]])], fusion="borda")
    with pytest.raises(ValueError, match="weights"):
        EnsembleScorer({"a": fake_scorer([[1.0]])}, weights={"b": 1.0})


def test_config_builds_bm25_and_minilm_scorers(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg("miner=ensemble", "miner.scorer.scorers.minilm.encoder=null")  # no weights
    assert set(cfg.miner.scorer.scorers) == {"bm25", "minilm"}
    scorer = instantiate(cfg.miner.scorer)
    assert list(scorer.scorers) == ["bm25", "minilm"]
    assert type(scorer.scorers["bm25"]).__name__ == "BM25Scorer"
