"""Run state moving forward: each pass's teacher to the loss, dev feedback to the miner."""

from __future__ import annotations

from types import SimpleNamespace

from zelo.callbacks.run_state import BindTeacher, MinerFeedback
from zelo.losses.infonce import InfoNCELoss
from zelo.losses.infonce_masked import MaskedInfoNCELoss
from zelo.mining.adaptive import AdaptiveMiner
from zelo.mining.base import Miner
from zelo.mining.oracle import OracleScorer
from zelo.types import MiningInput, MiningPass


def _latest(teacher) -> SimpleNamespace:
    latest = MiningPass(0, MiningInput(["q"], ["d"], [[0]], 1), None, {}, teacher)
    return SimpleNamespace(datamodule=SimpleNamespace(latest_pass=latest))


def test_bind_teacher_hands_the_pass_teacher_only_to_losses_that_take_one():
    teacher = object()
    masked, plain = MaskedInfoNCELoss(), InfoNCELoss()
    for loss in (masked, plain):
        BindTeacher().on_train_epoch_start(_latest(teacher), SimpleNamespace(loss=loss))
    assert masked.teacher is teacher and plain.teacher is None


def _trainer(dev: float | None, epoch: int, max_epochs: int = 5) -> SimpleNamespace:
    metrics = {} if dev is None else {"val/ndcg@10": dev, "test/ndcg@10": 0.99}
    return SimpleNamespace(
        callback_metrics=metrics,
        current_epoch=epoch,
        max_epochs=max_epochs,
        check_val_every_n_epoch=1,
    )


def test_feedback_zero_shot_then_each_epoch_but_not_after_the_last():
    base = Miner(OracleScorer())
    miner = AdaptiveMiner(base, "scorer.intelligence", [0.0, 0.5, 1.0], 0.0)
    received = []
    miner.feedback = lambda epoch, value: received.append((epoch, value))
    callback = MinerFeedback(miner)
    zero_shot = SimpleNamespace(callback_metrics={"val/ndcg@10_before": 0.4})
    callback.teardown(zero_shot, None, "validate")
    callback.setup(_trainer(None, 0, 3), None, "fit")
    callback.on_train_epoch_end(_trainer(0.5, 0, 3), None)
    callback.on_train_epoch_end(_trainer(None, 1, 3), None)  # no fresh value: the last one
    callback.on_train_epoch_end(_trainer(0.6, 2, 3), None)  # the last epoch: no next pass
    assert received == [(0, 0.4), (1, 0.5), (2, 0.5)]
    assert callback.state_dict()["last_dev"] == 0.6


def test_fixed_miner_gets_no_feedback_and_state_round_trips():
    miner = Miner(OracleScorer())
    callback = MinerFeedback(miner)
    callback.on_train_epoch_end(_trainer(0.5, 0), None)
    assert callback.state_dict() == {"miner": {}, "last_dev": 0.5}
    climb = AdaptiveMiner(Miner(OracleScorer()), "scorer.intelligence", [0.0, 1.0], 0.0)
    climb.feedback(0, 0.3)
    climb.feedback(1, 0.4)  # gained: harder
    saved = MinerFeedback(climb).state_dict()
    fresh = AdaptiveMiner(Miner(OracleScorer()), "scorer.intelligence", [0.0, 1.0], 0.0)
    restored = MinerFeedback(fresh)
    restored.load_state_dict(saved)
    assert fresh.state_dict() == climb.state_dict() and fresh.hardness == 1.0
