"""In-training checkpoints: written atomically, checked before use, and carrying what a resumed
job needs (loader position, random state, metrics and mining passes so far)."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from zelo.pipeline import train
from zelo.run.checkpoint import TrainingCheckpoint, checkpoint_problem, usable_checkpoint
from zelo.run.resumable import ResumableDataLoader
from zelo.run.rng import reseed, rng_state, set_rng_state
from zelo.types import MiningPass


def saved_checkpoint(path: Path) -> Path:
    torch.save({"weights": torch.arange(1000.0)}, path)
    return path


def test_checkpoint_problem_spots_truncated_and_foreign_files(tmp_path: Path) -> None:
    good = saved_checkpoint(tmp_path / "good.ckpt")
    assert checkpoint_problem(good) is None
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[:-100])
    assert "not a zip archive" in checkpoint_problem(cut)[0]
    flipped = bytearray(good.read_bytes())
    flipped[200] ^= 0xFF  # inside a stored member: the CRC check fails
    (tmp_path / "flipped.ckpt").write_bytes(bytes(flipped))
    assert checkpoint_problem(tmp_path / "flipped.ckpt") is not None


def test_an_unusable_checkpoint_is_moved_aside_with_one_warning(tmp_path: Path, caplog) -> None:
    last = tmp_path / "last.ckpt"
    last.write_bytes(b"PK\x03\x04 half a file")
    with caplog.at_level(logging.WARNING):
        assert usable_checkpoint(last) is None
    assert not last.exists() and (tmp_path / "last.ckpt.corrupt").exists()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(last) in warnings[0].getMessage()
    assert usable_checkpoint(saved_checkpoint(last)) == last
    assert usable_checkpoint(tmp_path / "absent.ckpt") is None


def test_a_checkpoint_resumes_only_the_config_it_records(tmp_path: Path, caplog) -> None:
    last = tmp_path / "last.ckpt"
    config = {"model.lr": "0.001", "seed": "0"}
    torch.save({"callbacks": {"TrainingCheckpoint": {"config": config}}}, last)
    assert usable_checkpoint(last, config) == last
    with caplog.at_level(logging.WARNING):  # another config's: moved aside, kept
        assert usable_checkpoint(last, {**config, "model.lr": "0.05"}) is None
    assert "made with another config (model.lr: 0.001 -> 0.05)" in caplog.text
    assert (tmp_path / "last.ckpt.other-config").exists()
    torch.save({"state_dict": {"w": torch.ones(2)}}, last)  # tensors, but not zelo's
    assert usable_checkpoint(last, config) is None
    assert (tmp_path / "last.ckpt.other-config.2").exists() and not last.exists()


def test_random_state_round_trip_and_epoch_reseed() -> None:
    reseed(3, 1)
    first = (torch.rand(2), np.random.rand(), random.random())
    reseed(3, 1)
    state = rng_state()
    again = (torch.rand(2), np.random.rand(), random.random())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]
    set_rng_state(state)
    assert torch.equal(torch.rand(2), again[0]) and np.random.rand() == again[1]
    reseed(3, 2)
    assert not torch.equal(torch.rand(2), first[0])  # another epoch, another stream


def test_resumable_loader_skips_the_batches_already_served() -> None:
    loader = ResumableDataLoader(list(range(10)), batch_size=3)
    it = iter(loader)
    assert next(it).tolist() == [0, 1, 2] and next(it).tolist() == [3, 4, 5]
    state = loader.state_dict()
    assert state == {"served": 2}
    resumed = ResumableDataLoader(list(range(10)), batch_size=3)
    resumed.load_state_dict(state)
    assert [b.tolist() for b in resumed] == [[6, 7, 8], [9]]
    assert [b.tolist() for b in resumed][0] == [0, 1, 2]  # the next pass is whole again


def test_carry_over_keeps_earlier_metrics_and_mining_passes() -> None:
    cb = TrainingCheckpoint("unused")
    fitted = {"val/ndcg@10": 0.5}
    history = [{"mining/epoch": 2.0, "miner/ndcg@10": 0.7}]
    for stats in history:  # the passes this process mined are handed to it
        cb.on_mining_pass(MiningPass(2, None, None, stats))
    assert cb.carry_over(fitted) == (fitted, history)  # not resumed: unchanged
    saved = [{"mining/epoch": e, "miner/ndcg@10": 0.1 * e} for e in (0.0, 1.0, 2.0)]
    cb.load_state_dict(
        {
            "metrics": {"train/loss_epoch": 1.5, "val/ndcg@10": 0.4},
            "rng": None,
            "mining_history": saved,
        }
    )
    metrics, passes = cb.carry_over(fitted)
    assert metrics == {"train/loss_epoch": 1.5, "val/ndcg@10": 0.5}
    assert passes == saved[:2] + history  # the pass redone at epoch 2 replaces the saved one


def test_a_truncated_checkpoint_restarts_the_job(make_cfg, tmp_path: Path, caplog) -> None:
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(saved_checkpoint(tmp_path / "x.ckpt").read_bytes()[:-50])
    with caplog.at_level(logging.WARNING):
        metrics = train(make_cfg("miner=random", "callbacks=none"))
    assert metrics["trainer/epochs"] == 1
    assert (tmp_path / "metrics.json").exists()
    assert (tmp_path / "checkpoints" / "last.ckpt.corrupt").exists() or not last.parent.exists()
    assert any("moved aside" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_a_job_resumed_after_training_keeps_its_metrics(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg("trainer.max_epochs=2", "keep_checkpoints=true", "callbacks=none")
    first = train(cfg)
    (tmp_path / "metrics.json").unlink()  # as if killed during the final evaluation
    again = train(cfg)
    assert again["train/loss"] == first["train/loss"] is not None
    assert again["mining/passes"] == first["mining/passes"] == 1
    for key in ("test/ndcg@10", "val/ndcg@10", "miner/ndcg@10", "trainer/global_step"):
        assert again[key] == first[key], key
    assert json.loads((tmp_path / "metrics.json").read_text())["train/loss"] == first["train/loss"]
