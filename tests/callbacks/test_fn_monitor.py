"""The false-negative monitor reads only the mining passes it is handed and the batches it is shown."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from zelo.callbacks.false_negatives import FalseNegativeMonitor
from zelo.types import MinedNegatives, MiningInput, MiningPass
from zelo.utils.tensors import pad_rows

NAN = float("nan")


class RecordingLogger:
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append(dict(metrics))


class WordEncoder:
    """Query and document texts are numbers: the embedding of "x" is ``[x, 1]`` (a tiny student)."""

    def encode(self, texts, batch_size=128, is_query=False):
        return torch.tensor([[float(t), 1.0] for t in texts])


def _pass() -> MiningPass:
    # q0: positive 0; negatives 1 (hidden positive, a false negative) and 2 (true negative)
    # q1: positive 3; negatives 4 (true negative) and none
    inp = MiningInput(
        query_texts=["1", "0"],
        doc_texts=["0.5", "0.25", "0.75", "0.5", "-1"],
        positives=[[0], [3]],
        num_negatives=2,
        judgments=[{0: 1, 1: 1}, {3: 2}],
    )
    mined = MinedNegatives(
        neg_ids=torch.tensor([[1, 2], [4, -1]]),
        neg_scores=torch.tensor([[0.9, 0.5], [0.2, NAN]]),
        pos_scores=torch.tensor([[0.9], [0.4]]),
        ranking=torch.tensor([[0, 1, 2], [3, 4, -1]]),
        ranking_scores=torch.zeros(2, 3),
    )
    return MiningPass(0, inp, mined, {"mining/fn_rate": 1 / 3})


def _trainer() -> SimpleNamespace:
    return SimpleNamespace(
        loggers=[RecordingLogger()],
        callback_metrics={},
        global_step=0,
        current_epoch=0,
    )


def test_logs_teacher_rate_inbatch_rate_and_student_view_once_per_pass():
    trainer = _trainer()
    module = SimpleNamespace(encoder=WordEncoder())
    monitor = FalseNegativeMonitor(student_max_queries=2, histograms=False)
    monitor.on_train_epoch_start(trainer, module)  # no pass handed yet: nothing to measure
    assert trainer.loggers[0].rows == []
    monitor.on_mining_pass(_pass())
    monitor.on_train_epoch_start(trainer, module)
    monitor.on_train_epoch_start(trainer, module)  # the same pass: not logged again
    rows = trainer.loggers[0].rows
    assert len(rows) == 1
    assert float(trainer.callback_metrics["fn/teacher_rate"]) == pytest.approx(1 / 3)
    # the miner's scores: q0 0.9 (tie with s+ 0.9: counts) and 0.5; q1 0.2 < 0.4 -> 1 of 3
    assert rows[0]["fn/teacher_rate"] == pytest.approx(1 / 3)
    assert rows[0]["fn/teacher_margin_p50"] == pytest.approx(-0.2)  # margins 0, -0.4, -0.2
    batch = {
        "doc_ids": torch.tensor([[0, 1, 2], [3, 4, -1]]),
        "pos_sets": pad_rows([[0], [3]]),
        "query_index": torch.tensor([0, 1]),
    }
    monitor.on_train_batch_end(trainer, module, None, batch, 0)
    monitor.on_train_epoch_end(trainer, module)
    epoch = trainer.loggers[0].rows[-1]
    # q0 sees 3, 4: neither relevant to q0; q1 sees 0, 1, 2: none relevant to q1 -> 0 of 5
    assert epoch["fn/inbatch_rate"] == 0.0
    # student: q0 = [1, 1] scores docs by x + 1: pos 1.5, negs 1.25 (FN), 1.75 (TN, above)
    # q1 = [0, 1]: every doc scores 1: pos 1, neg 1 (a tie: not above)
    assert epoch["fn/student_above_pos"] == pytest.approx(1 / 3)
    assert epoch["fn/student_above_pos_tn"] == pytest.approx(1 / 2)
    assert epoch["fn/student_above_pos_fn"] == 0.0


def test_a_teacher_scorer_replaces_the_miners_scores_and_no_judgments_skip_inbatch():
    class Constant:
        def score(self, inp, doc_ids):
            return torch.where(doc_ids >= 0, 1.0, NAN)

    latest = _pass()
    trainer = _trainer()
    monitor = FalseNegativeMonitor(teacher=Constant(), student_max_queries=0, histograms=False)
    monitor.on_mining_pass(latest)
    monitor.on_train_epoch_start(trainer, SimpleNamespace())
    assert trainer.loggers[0].rows[0]["fn/teacher_rate"] == 1.0  # every negative ties
    blind = MiningPass(0, MiningInput(["q"], ["d0", "d1"], [[0]], 1), latest.mined, {})
    trainer = _trainer()
    monitor = FalseNegativeMonitor(student_max_queries=0, histograms=False)
    monitor.on_mining_pass(blind)
    monitor.on_train_epoch_start(trainer, SimpleNamespace())
    monitor.on_train_batch_end(trainer, None, None, {"query_index": torch.tensor([0])}, 0)
    monitor.on_train_epoch_end(trainer, None)
    assert "fn/inbatch_rate" not in trainer.loggers[0].rows[-1]  # NaN is not logged
