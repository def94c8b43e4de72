"""The adaptive miner in a run: dev feedback only, a mining pass every epoch."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate

from zelo.callbacks.run_state import EpochMining, MinerFeedback
from zelo.mining.adaptive import AdaptiveMiner
from zelo.pipeline import build, train


class NoTestSplit(dict):
    """The DataModule's query sets, with the test split out of reach."""

    def __getitem__(self, key: str):
        if key == "test":
            raise AssertionError("the test split was read")
        return super().__getitem__(key)

    def get(self, key: str, default=None):
        return self[key] if key in self else default


def _spy_feedback(monkeypatch) -> list[tuple[int, float]]:
    received: list[tuple[int, float]] = []
    original = AdaptiveMiner.feedback

    def spy(self, epoch: int, value: float) -> None:
        received.append((epoch, value))
        original(self, epoch, value)

    monkeypatch.setattr(AdaptiveMiner, "feedback", spy)
    return received


def test_fit_never_reads_the_test_split(make_cfg, monkeypatch) -> None:
    cfg = make_cfg("miner=adaptive_oracle", "trainer.max_epochs=2")
    built = build(cfg)
    module, dm = built.module, built.datamodule
    dm.query_sets = NoTestSplit(dm.query_sets)
    received = _spy_feedback(monkeypatch)
    mining = EpochMining.of(dm)
    trainer = instantiate(
        cfg.trainer,
        logger=False,
        callbacks=[MinerFeedback(dm.miner), mining],
        enable_checkpointing=False,
        reload_dataloaders_every_n_epochs=dm.remine_every_n_epochs,
    )
    with module.metric_suffix("_before"):
        zero_shot = trainer.validate(module, datamodule=dm, verbose=False)[0]
    zero_shot = zero_shot["val/ndcg@10_before"]
    trainer.fit(module, datamodule=dm)
    assert [e for e, _ in received] == [0, 1]
    assert received[0][1] == zero_shot
    assert received[1][1] != zero_shot
    assert len(dm.passes) == 2


def test_tiny_adaptive_run_mines_every_epoch_on_dev_feedback(
    make_cfg, tmp_path: Path, monkeypatch
) -> None:
    received = _spy_feedback(monkeypatch)
    metrics = train(make_cfg("miner=adaptive_oracle", "trainer.max_epochs=3"))
    assert metrics["mining/passes"] == 3
    for key in ("test/ndcg@10", "val/ndcg@10", "miner/ndcg@10", "mining/hardness"):
        assert metrics[key] is not None and math.isfinite(metrics[key]), key
    assert metrics["mining/hardness"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    log = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    dev = log["val/ndcg@10"].dropna().tolist()  # one value per epoch
    expected = [metrics["val/ndcg@10_before"], *dev[:2]]
    assert [e for e, _ in received] == [0, 1, 2]
    for (_, value), dev_value in zip(received, expected, strict=True):
        assert math.isclose(value, dev_value, rel_tol=1e-6)  # the dev metric, epoch by epoch
    assert len(log["mining/hardness"].dropna()) == 3  # logged at every pass
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["mining/hardness"] == metrics["mining/hardness"]


def test_checkpoint_carries_the_climb_and_a_fresh_datamodule_resumes_it(
    make_cfg, tmp_path: Path
) -> None:
    import torch

    cfg = make_cfg("miner=adaptive_oracle", "trainer.max_epochs=3", "keep_checkpoints=true")
    metrics = train(cfg)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)  # tensors only
    state = ckpt["callbacks"]["MinerFeedback"]
    # saved after the last epoch's validation: the level it trained at, the dev value it reached
    assert state["miner"]["levels"][state["miner"]["level"]] == metrics["mining/hardness"]
    assert math.isclose(state["last_dev"], metrics["val/ndcg@10"], rel_tol=1e-6)
    dm = build(cfg).datamodule
    assert dm.miner.level == 0 and dm.miner._last is None
    feedback = MinerFeedback(dm.miner)
    feedback.load_state_dict(state)
    assert dm.miner.state_dict() == state["miner"]
    assert feedback.last_dev == state["last_dev"]
