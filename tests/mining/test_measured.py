"""Mine and measure a pass: the step training and zelo-mine share."""

from __future__ import annotations

import math

import torch

from zelo.eval.false_negatives import mining_stats
from zelo.mining.base import Miner
from zelo.mining.measured import mine_and_measure
from zelo.mining.scorers.random_scorer import RandomScorer
from zelo.types import MiningInput


def _input(judged: bool = True) -> MiningInput:
    return MiningInput(
        query_texts=[f"query {i}" for i in range(4)],
        doc_texts=[f"doc {d}" for d in range(20)],
        positives=[[0], [1], [2], [3]],
        num_negatives=3,
        seed=5,
        judgments=[{0: 2, 5: 1, 6: 1}, {1: 1}, {2: 1, 9: 2}, {3: 1}] if judged else None,
    )


class HalfScorer(RandomScorer):
    """The reference: every document scores 0.5, the positives 1."""

    def score(self, inp, doc_ids):
        pos = torch.tensor([p for p in inp.positives])  # [Q, 1]
        out = torch.where(doc_ids == pos, 1.0, 0.5)
        return out.masked_fill(doc_ids < 0, float("nan"))


def test_the_pass_is_measured_as_mining_stats_plus_time_info_and_hardness():
    inp = _input()
    mined, stats = mine_and_measure(Miner(RandomScorer(), depth=20), inp, reference=HalfScorer())
    assert stats.items() >= mining_stats(mined, inp.judgments, inp.positives).items()
    assert stats["mining/seconds"] >= 0.0
    # every negative scores 0.5 against a positive at 1 on the reference: margin -0.5
    assert stats["mining/tn_hardness"] == -0.5 and stats["mining/tn_score_mean"] == 0.5


def test_no_judgments_no_hardness_and_nan_intelligence():
    mined, stats = mine_and_measure(Miner(RandomScorer(), depth=20), _input(False), HalfScorer())
    assert math.isnan(stats["miner/ndcg@10"]) and math.isnan(stats["mining/fn_rate"])
    assert "mining/tn_hardness" not in stats
    assert mined.neg_ids.shape == (4, 3)
