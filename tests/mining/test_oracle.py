from __future__ import annotations

import pytest
import torch

from zelo.data.splits import build_query_set, resolve_splits
from zelo.data.synthetic import generate_collection
from zelo.eval.false_negatives import mining_stats
from zelo.eval.metrics import ideal_dcg
from zelo.mining.base import Miner
from zelo.mining.scorers.oracle import OracleScorer, calibrate, dense_ndcg
from zelo.types import MiningInput


@pytest.fixture(scope="module")
def synthetic() -> MiningInput:
    collection = generate_collection(num_docs=400, num_queries=60, num_topics=10)
    train = resolve_splits(collection)["train"]
    qs = build_query_set(collection, train, keep_positives=1)
    return MiningInput(
        qs.query_texts, collection.doc_texts, qs.positives, 3, judgments=qs.judgments
    )


def test_measured_ndcg_rises_evenly_with_intelligence(synthetic):
    ndcg, fn = [], []
    for x in (0.0, 0.25, 0.5, 0.75, 1.0):
        mined = Miner(OracleScorer(intelligence=x), depth=50).mine(synthetic)
        stats = mining_stats(mined, synthetic.judgments, synthetic.positives)
        ndcg.append(stats["miner/ndcg@10"])
        fn.append(stats["mining/fn_rate"])
    assert all(a < b for a, b in zip(ndcg, ndcg[1:], strict=False)), ndcg
    assert ndcg[-1] == pytest.approx(1.0)
    assert ndcg[0] < 0.15  # random level: ~20 relevant of 400 docs
    r0 = ndcg[0]
    for x, value in zip((0.25, 0.5, 0.75), ndcg[1:4], strict=True):
        assert value == pytest.approx(r0 + x * (1 - r0), abs=0.05)
    assert fn[-1] > fn[0]  # a smarter miner picks more false negatives


def test_same_seed_same_scores_and_rank_score_agree(synthetic):
    a, b = OracleScorer(0.5), OracleScorer(0.5)
    ids, scores = a.rank(synthetic, 20)
    assert torch.equal(ids, b.rank(synthetic, 20)[0])
    torch.testing.assert_close(a.score(synthetic, ids), scores)
    other = OracleScorer(0.5, seed_offset=1).rank(synthetic, 20)[0]
    assert not torch.equal(ids, other)


def test_calibration_by_hand_on_a_tiny_matrix():
    grades = torch.tensor([[2.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    gain = grades / 2
    noise = torch.tensor([[0.0, 0.0, 1.0, 0.5]], dtype=torch.float64)
    lam, achieved, r0 = calibrate(gain, noise, grades, 1.0)
    assert lam == 1.0 and achieved == pytest.approx(1.0)
    assert r0 == pytest.approx(dense_ndcg(noise, grades, ideal_dcg(grades, 10)))
    assert calibrate(gain, noise, grades, 0.0)[0] == 0.0


def test_needs_judgments_and_a_valid_dial():
    inp = MiningInput(["q"], ["d0", "d1"], [[0]], 1)
    with pytest.raises(ValueError, match="oracle"):
        OracleScorer().rank(inp, 2)
    with pytest.raises(ValueError, match="intelligence"):
        OracleScorer(intelligence=1.5)
    scorer = OracleScorer(0.5)
    with pytest.raises(ValueError, match="intelligence"):
        scorer.intelligence = -0.1
