"""A training run builds one index per mining pass and one per state of the student's weights
that it evaluates (never per batch): the zero-shot validation and test share one, each epoch's
validation builds one, and the final evaluation reuses the last epoch's."""

from __future__ import annotations

from collections import Counter

import pytest

from zelo.mining.base import Miner
from zelo.models.biencoder import BiEncoderModule
from zelo.pipeline import train
from zelo.retrieval import searcher


def _counting(monkeypatch, owner: type, name: str, counts: Counter) -> None:
    original = getattr(owner, name)

    def wrapped(self, *args, **kwargs):
        counts[name] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


@pytest.mark.slow
def test_one_build_per_mining_pass_and_evaluation_epoch(make_cfg, monkeypatch):
    counts: Counter = Counter()
    _counting(monkeypatch, Miner, "mine", counts)
    _counting(monkeypatch, BiEncoderModule, "_encode_corpus", counts)  # once per weights state
    _counting(monkeypatch, BiEncoderModule, "_eval_step", counts)  # once per eval batch
    before = searcher.build_counts["flat"]
    cfg = make_cfg(
        "miner=topk",
        "miner/scorer=student",  # self-mining: new weights, new index at every pass
        "data.mine_every_n_epochs=1",
        "data.eval_batch_size=2",
        "trainer.max_epochs=2",
        "save_student=false",
    )
    train(cfg)
    builds = searcher.build_counts["flat"] - before
    assert counts["mine"] >= 2
    assert counts["_encode_corpus"] == 1 + cfg.trainer.max_epochs  # zero-shot, then each epoch
    assert counts["_eval_step"] > 2 * counts["_encode_corpus"]  # several batches per epoch
    assert builds == counts["mine"] + counts["_encode_corpus"]
