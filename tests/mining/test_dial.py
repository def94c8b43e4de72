"""The hardness dial: calibrated intelligence, the base scorer in the middle, the FN-free twin."""

from __future__ import annotations

import pytest
import torch

from zelo.data.splits import build_query_set, resolve_splits
from zelo.data.synthetic import generate_collection
from zelo.eval.false_negatives import hardness_stats, mining_stats, relevance_of
from zelo.mining.base import Miner
from zelo.mining.scorers.bm25 import BM25Scorer
from zelo.mining.scorers.dial import DialScorer, standardise_rows
from zelo.mining.scorers.oracle import OracleScorer, bisect
from zelo.types import MiningInput

NAN = float("nan")
POINTS = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)


@pytest.fixture(scope="module")
def synthetic() -> MiningInput:
    collection = generate_collection(num_docs=400, num_queries=80, num_topics=10)
    train = resolve_splits(collection)["train"]
    qs = build_query_set(collection, train, keep_positives=1)
    return MiningInput(
        qs.query_texts, collection.doc_texts, qs.positives, 3, judgments=qs.judgments
    )


def test_standardise_rows_hand_computed():
    ids = torch.tensor([[2, 0, -1], [1, 3, 0]])
    scores = torch.tensor([[3.0, 1.0, float("-inf")], [2.0, 2.0, 2.0]])
    z = standardise_rows(ids, scores, 4)
    # row 0: mean 2, std 1 -> doc 2: +1, doc 0: -1; docs 1, 3 unranked: -1 - 1 = -2
    assert z[0].tolist() == [-1.0, -2.0, 1.0, -2.0]
    # row 1: equal scores -> z 0 for the ranked docs, -1 for doc 2
    assert z[1].tolist() == [0.0, 0.0, -1.0, 0.0]


def test_bisect_finds_the_smallest_crossing():
    assert bisect(lambda t: t * t, 0.25) == pytest.approx(0.5, abs=1e-6)
    assert bisect(lambda t: 0.0, 1.0) == 1.0  # never reached: the top of the range


def test_measured_ndcg_lands_on_its_target_at_every_point(synthetic):
    scorer = DialScorer(BM25Scorer(), pool=400)
    measured = []
    for x in POINTS:
        scorer.intelligence = x
        mined = Miner(scorer, depth=50).mine(synthetic)
        stats = mining_stats(mined, synthetic.judgments, synthetic.positives)
        report = mined.info
        assert stats["miner/ndcg@10"] == pytest.approx(report["dial_target"], abs=0.05), x
        measured.append(stats["miner/ndcg@10"])
    assert measured[-1] == pytest.approx(1.0)
    assert all(a <= b + 0.02 for a, b in zip(measured, measured[1:], strict=False)), measured


def test_the_middle_of_the_dial_is_the_base_scorer(synthetic):
    base = BM25Scorer()
    scorer = DialScorer(base, pool=400)
    x_b = scorer.calibration(synthetic).x_base
    assert 0.0 < x_b < 1.0
    scorer.intelligence = x_b
    dial = Miner(scorer, depth=20).mine(synthetic)
    plain = Miner(base, depth=20).mine(synthetic)
    assert dial.info["dial_weight"] == 1.0 and dial.info["dial_segment"] == 0.0
    # the base scorer's own ranking: the same scores in the same order (tied documents may swap)
    torch.testing.assert_close(base.score(synthetic, dial.ranking), plain.ranking_scores)


def test_fn_free_twin_mines_no_judged_document(synthetic):
    for scorer in (DialScorer(BM25Scorer(), intelligence=0.9, pool=400), OracleScorer(1.0)):
        raw = Miner(scorer, depth=50).mine(synthetic)
        twin = Miner(scorer, depth=50, drop_judged=True).mine(synthetic)
        assert mining_stats(raw, synthetic.judgments, synthetic.positives)["mining/fn_rate"] > 0.5
        stats = mining_stats(twin, synthetic.judgments, synthetic.positives)
        assert stats["mining/fn_rate"] == 0.0 and stats["mining/num_short"] == 0
        assert twin.dropped["judged"] > 0
    with pytest.raises(ValueError, match="full judgments"):
        blind = MiningInput(synthetic.query_texts, synthetic.doc_texts, synthetic.positives, 3)
        Miner(BM25Scorer(), drop_judged=True).mine(blind)


def test_dial_needs_judgments_and_a_valid_knob():
    with pytest.raises(ValueError, match="intelligence"):
        DialScorer(BM25Scorer(), intelligence=1.2)
    with pytest.raises(ValueError, match="noise"):
        DialScorer(BM25Scorer(), noise="cauchy")
    with pytest.raises(ValueError, match="judgments"):
        DialScorer(BM25Scorer()).rank(MiningInput(["q"], ["d0", "d1"], [[0]], 1), 2)


def test_hardness_stats_hand_computed():
    neg = torch.tensor([[0.5, 0.25, NAN], [0.75, 0.0, 0.5]])
    pos = torch.tensor([[0.75, 1.0], [0.5, NAN]])  # reference positive (min): 0.75, 0.5
    grades = torch.tensor([[0, 2, -1], [0, 0, 1]])  # TN, FN, none | TN, TN, FN
    stats = hardness_stats(neg, pos, grades)
    # TN margins: 0.5 - 0.75, 0.75 - 0.5, 0.0 - 0.5 -> mean -1/6; FN margins: -0.5, 0.0
    assert stats["mining/tn_hardness"] == pytest.approx(-1 / 6)
    assert stats["mining/tn_score_mean"] == pytest.approx(0.4166667)
    assert stats["mining/fn_hardness"] == pytest.approx(-0.25)
    assert relevance_of(torch.tensor([[3, -1]]), [{3: 1}]).tolist() == [[1, -1]]
