from __future__ import annotations

import math
from functools import partial

import pytest

from zelo.keys import dev_metric
from zelo.mining.adaptive import AdaptiveMiner, hill_climb, set_knob
from zelo.mining.base import Miner
from zelo.mining.rules.shifted import shift_mask
from zelo.mining.scorers.oracle import OracleScorer
from zelo.types import MiningInput


def _oracle_climb(
    levels=(0.0, 0.25, 0.5, 0.75, 1.0), start=0.0, tolerance=0.0, depth=100, noise="gaussian"
):
    base = Miner(OracleScorer(noise=noise), depth=depth)
    return AdaptiveMiner(base, "scorer.intelligence", levels, start, tolerance)


NAN = float("nan")


@pytest.mark.parametrize(
    ("level", "direction", "gain", "tolerance", "expected"),
    [
        (0, 1, 0.05, 0.0, (1, 1)),  # improved: one more step harder
        (2, 1, 0.001, 0.0, (3, 1)),
        (1, 1, -0.002, 0.0, (0, -1)),  # got worse: turn back, one step easier
        (2, -1, 0.01, 0.0, (1, -1)),  # easier helped: keep going easier
        (2, -1, -0.01, 0.0, (3, 1)),  # easier hurt: turn back, harder again
        (4, 1, 0.01, 0.0, (4, 1)),  # improving at the hardest end: stay
        (0, -1, 0.01, 0.0, (0, -1)),  # improving at the easiest end: stay
        (0, -1, -0.01, 0.0, (1, 1)),  # stuck at the easiest end: try harder
        (0, 1, -0.01, 0.0, (1, 1)),  # the easiest level did not help: no easier one, go harder
        (4, 1, -0.01, 0.0, (3, -1)),  # the hardest level hurt: back one step
        (2, 1, 0.003, 0.003, (1, -1)),  # a gain equal to the tolerance is no improvement
        (2, 1, 0.0, 0.0, (1, -1)),  # no change is no improvement
        (2, 1, NAN, 0.0, (2, 1)),  # not measured: unchanged
    ],
)
def test_hill_climb_hand_computed(level, direction, gain, tolerance, expected):
    assert hill_climb(level, direction, gain, 5, tolerance) == expected


def test_hill_climb_single_level_and_bad_direction():
    assert hill_climb(0, 1, 0.1, 1) == (0, 1)
    assert hill_climb(0, 1, -0.1, 1) == (0, 1)
    with pytest.raises(ValueError, match="direction"):
        hill_climb(0, 0, 0.1, 3)


def test_feedback_sequence_moves_the_dial():
    miner = _oracle_climb([0.0, 0.5, 1.0], start=0.0)
    miner.feedback(0, 0.70)  # zero-shot: the baseline, no decision yet
    assert miner.hardness == 0.0
    miner.feedback(1, 0.75)  # epoch 0 at x=0 gained +0.05 -> harder
    assert miner.hardness == 0.5
    miner.feedback(1, 0.10)  # a repeated call for the same epoch is ignored
    assert miner.hardness == 0.5
    miner.feedback(2, 0.74)  # x=0.5 lost 0.01 -> back to x=0, heading easier
    assert (miner.hardness, miner.direction) == (0.0, -1)
    miner.feedback(3, 0.76)  # x=0 gained: stay at the easy end
    assert (miner.hardness, miner.direction) == (0.0, -1)
    miner.feedback(4, 0.75)  # x=0 lost: turn back, harder
    assert (miner.hardness, miner.direction) == (0.5, 1)


def test_tolerance_turns_back_on_a_small_gain():
    miner = _oracle_climb([0.0, 0.5, 1.0], start=0.5, tolerance=0.01)
    miner.feedback(0, 0.70)
    miner.feedback(1, 0.705)
    assert (miner.hardness, miner.direction) == (0.0, -1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": [0.5, 0.5], "start": 0.5}, "distinct"),
        ({"levels": []}, "distinct"),
        ({"levels": [0.0, 0.5], "start": 0.25}, "start"),
        ({"levels": [0.0, 1.5], "start": 1.5}, "intelligence"),
        ({"noise": "cauchy"}, "noise"),
    ],
)
def test_invalid_settings_fail(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _oracle_climb(**kwargs)


def _input(seed: int = 0) -> MiningInput:
    """Two queries over 8 docs; doc 0/4 labelled, docs 1, 2 (q0) and 5 (q1) hidden positives."""
    return MiningInput(
        query_texts=["q0", "q1"],
        doc_texts=[f"d{i}" for i in range(8)],
        positives=[[0], [4]],
        num_negatives=2,
        seed=seed,
        judgments=[{0: 2, 1: 2, 2: 1}, {4: 1, 5: 1}],
    )


def test_mine_uses_the_current_hardness_and_records_it():
    miner = _oracle_climb([0.0, 1.0], start=1.0, depth=8)
    mined = miner.mine(_input())
    # x = 1: the graded order, so the hidden positives come first (q1 has one, then noise)
    assert mined.neg_ids[0].tolist() == [1, 2]
    assert mined.neg_ids[1, 0].item() == 5
    assert (mined.info["hardness"], mined.info["adaptive_arm"]) == (1.0, 1.0)
    assert math.isnan(mined.info["adaptive_feedback"])  # no feedback yet
    miner.feedback(0, 0.5)
    miner.feedback(1, 0.4)  # worse at x=1: back to x=0
    mined = miner.mine(_input(seed=1))
    assert miner.scorer.intelligence == 0.0
    assert mined.info == {"hardness": 0.0, "adaptive_arm": 0.0, "adaptive_feedback": 0.4}
    assert (mined.neg_ids >= 0).all()


def test_dev_metric_never_reads_test_keys():
    metrics = {"test/ndcg@10": 0.9, "val/ndcg@10": 0.5, "test/ndcg@10_before": 0.8}
    assert dev_metric(metrics) == 0.5
    assert dev_metric({"test/ndcg@10_before": 0.9, "val/ndcg@10_before": 0.4}) == 0.4
    assert dev_metric({"test/ndcg@10": 0.9, "test/ndcg@10_before": 0.9}) is None


def test_state_round_trip_resumes_the_climb():
    miner = _oracle_climb((0.0, 0.5, 1.0))
    for epoch, value in enumerate([0.30, 0.32, 0.35, 0.34]):  # up, up, then a loss: turn back
        miner.feedback(epoch, value)
    assert (miner.level, miner.direction) == (1, -1)
    resumed = _oracle_climb((0.0, 0.5, 1.0))
    resumed.load_state_dict(miner.state_dict())
    assert (resumed.level, resumed.direction, resumed._last) == (1, -1, (3, 0.34))
    resumed.feedback(3, 0.99)  # the epoch already fed: ignored, as in the original
    miner.feedback(4, 0.36)
    resumed.feedback(4, 0.36)
    assert resumed.state_dict() == miner.state_dict()
    with pytest.raises(ValueError, match="miner.levels"):
        _oracle_climb((0.0, 1.0)).load_state_dict(miner.state_dict())


def test_set_knob_reaches_rule_parameters_and_refuses_unknown_paths():
    miner = Miner(OracleScorer(), {"shift": partial(shift_mask, shift=10)})
    set_knob(miner, "rules.shift.shift", 3.0)
    assert miner.rules["shift"].keywords == {"shift": 3} and miner.rules["shift"].func is shift_mask
    set_knob(miner, "scorer.intelligence", 0.25)
    assert miner.scorer.intelligence == 0.25
    for bad in ("rules.shift.depth", "rules.other.shift", "scorer.nothing", "depth"):
        with pytest.raises(ValueError, match="knob"):
            set_knob(miner, bad, 1.0)


def test_adaptive_shift_climbs_a_rule_knob():
    base = Miner(OracleScorer(1.0), {"shift": partial(shift_mask, shift=0)}, depth=8)
    miner = AdaptiveMiner(base, "rules.shift.shift", levels=[3, 2, 0], start=3)
    mined = miner.mine(_input())
    assert mined.info["hardness"] == 3 and mined.dropped["shift"] == 6  # 3 per query
    assert miner.adaptive and not Miner(OracleScorer()).adaptive
