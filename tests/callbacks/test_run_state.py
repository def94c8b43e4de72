"""Run state moving forward: the mining step, dev feedback to the miner."""

from __future__ import annotations

from types import SimpleNamespace

from zelo.callbacks.run_state import EpochMining, MinerFeedback
from zelo.mining.adaptive import AdaptiveMiner
from zelo.mining.base import Miner
from zelo.mining.scorers.oracle import OracleScorer
from zelo.types import MiningInput, MiningPass


def _pass(teacher, epoch: int = 0) -> MiningPass:
    return MiningPass(epoch, MiningInput(["q"], ["d"], [[0]], 1), None, {"mining/x": 1.0}, teacher)


class _Logger:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict]] = []

    def log_metrics(self, metrics: dict, step: int) -> None:
        self.rows.append((step, metrics))


def test_epoch_mining_mines_before_fit_then_after_every_kth_epoch_but_not_after_the_last():
    mined: list[int] = []

    def mine(epoch: int) -> MiningPass:
        mined.append(epoch)
        return _pass(None, epoch)

    step = EpochMining(mine, lambda e: e - e % 2, every_n_epochs=2)
    logger = _Logger()

    def trainer(epoch: int) -> SimpleNamespace:
        return SimpleNamespace(
            current_epoch=epoch,
            global_step=10 * epoch,
            loggers=[logger],
            should_stop=False,
            max_epochs=4,
            max_steps=-1,
        )

    step.setup(trainer(0), None, "validate")
    assert mined == []  # the zero-shot evaluation mines nothing
    step.setup(trainer(0), None, "fit")
    step.on_train_start(trainer(0), None)
    for epoch in range(4):
        step.on_train_epoch_end(trainer(epoch), None)
    assert mined == [0, 2]  # epoch 3 ends the fit: no pass for epoch 4
    assert logger.rows == [(0, {"mining/x": 1.0}), (10, {"mining/x": 1.0})]


def test_epoch_mining_redoes_the_scheduled_pass_of_a_resumed_run():
    mined: list[int] = []
    step = EpochMining(lambda e: mined.append(e) or _pass(None, e), lambda e: e - e % 2, 2)
    resumed = SimpleNamespace(current_epoch=3, global_step=30, loggers=[])
    step.setup(resumed, None, "fit")  # the loops are restored after setup: epoch 0's pass
    step.on_train_start(resumed, None)
    assert mined == [0, 2]


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
