from __future__ import annotations

import math

import pytest
import torch

from zelo.eval.false_negatives import (
    duplicate_of_positive_counts,
    false_negative_counts,
    mining_stats,
    nanmean,
)
from zelo.eval.metrics import mean_ndcg
from zelo.types import MinedNegatives

NAN = float("nan")


def _mined() -> MinedNegatives:
    return MinedNegatives(
        neg_ids=torch.tensor([[4, 2, 6], [5, -1, -1]]),
        neg_scores=torch.tensor([[0.8, 0.6, 0.2], [0.5, NAN, NAN]]),
        pos_scores=torch.tensor([[0.9, NAN], [0.7, 0.3]]),
        ranking=torch.tensor([[1, 4, 2, 6], [3, 5, 0, -1]]),
        ranking_scores=torch.tensor([[0.9, 0.8, 0.6, 0.2], [0.7, 0.5, 0.3, -math.inf]]),
        dropped={"positive": 2, "margin": 5},
    )


# q0: labelled positive 1; hidden relevant 2 (grade 2). q1: positives 3, 0; 5 is irrelevant.
JUDGMENTS = [{1: 1, 2: 2}, {3: 1, 0: 1}]
POSITIVES = [[1], [3, 0]]


def test_false_negative_counts():
    assert false_negative_counts(_mined().neg_ids, JUDGMENTS).tolist() == [1, 0]


def test_ranking_ndcg_hand_computed():
    # q0: ranking [1, 4, 2, 6]: DCG = 1/1 + 2/log2(4) = 2; IDCG = 2/1 + 1/log2(3) = 2.63093
    # q1: ranking [3, 5, 0]: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) = 1.63093
    q0 = 2 / (2 + 1 / math.log2(3))
    q1 = 1.5 / (1 + 1 / math.log2(3))
    assert mean_ndcg(_mined().ranking, JUDGMENTS) == pytest.approx((q0 + q1) / 2)


def test_duplicate_of_positive_counts():
    # docs 1 and 6 share a text (6 duplicates q0's positive 1); 5 duplicates 4 (no positive)
    neg = torch.tensor([[4, 6, 1], [5, -1, -1]])
    groups = [[1, 6], [4, 5]]
    assert duplicate_of_positive_counts(neg, POSITIVES, groups).tolist() == [1, 0]


def test_nanmean():
    assert nanmean(torch.tensor([1.0, NAN, 3.0])) == 2.0
    assert math.isnan(nanmean(torch.tensor([NAN])))


def test_mining_stats_hand_computed():
    stats = mining_stats(_mined(), JUDGMENTS, POSITIVES, duplicates=[[2, 1]])
    assert stats["mining/fn_rate"] == pytest.approx(1 / 4)  # 4 selected, 1 relevant (doc 2)
    assert stats["mining/fn_per_query"] == pytest.approx(0.5)
    assert stats["mining/num_negatives"] == pytest.approx(2.0)
    assert stats["mining/num_short"] == 1.0
    assert stats["mining/pos_score_mean"] == pytest.approx((0.9 + 0.7 + 0.3) / 3)
    assert stats["mining/neg_score_mean"] == pytest.approx((0.8 + 0.6 + 0.2 + 0.5) / 4)
    assert stats["mining/dropped_positive"] == 2.0 and stats["mining/dropped_margin"] == 5.0
    assert stats["mining/dup_of_positive_rate"] == pytest.approx(1 / 4)  # doc 2 has 1's text
    assert 0 < stats["miner/ndcg@10"] < 1


def test_mining_stats_without_judgments():
    stats = mining_stats(_mined(), None, POSITIVES, k=5)
    assert math.isnan(stats["miner/ndcg@5"]) and math.isnan(stats["mining/fn_rate"])
    assert "mining/dup_of_positive_rate" not in stats
    assert stats["mining/num_negatives"] == pytest.approx(2.0)
