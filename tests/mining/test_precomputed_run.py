"""Mine with zelo-mine on one run, train on the file with miner=precomputed in another: the
negatives, their FN rate and the twin are those of the file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra import compose, initialize
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from zelo.pipeline import train
from zelo.schemas import register_configs
from zelo.st.export import mine_to_dataset


def _mine(tmp_path: Path, cache_dir: Path, fmt: str) -> tuple[Path, dict]:
    register_configs()
    GlobalHydra.instance().clear()
    out = tmp_path / f"mined-{fmt}"
    overrides = [
        "dataset=synthetic_tiny",
        "miner=topk",
        "miner/scorer=bm25",
        "annotation.keep_positives=1",
        "num_negatives=2",
        f"output_format={fmt}",
        f"output_dir={out}",
    ]
    with initialize(config_path="../../conf", version_base="1.3"):
        cfg = compose("mine", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "mine-run")
        cfg.paths.cache_dir = str(cache_dir)
        cfg.hydra.runtime.output_dir = str(tmp_path / "mine-run")
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    summary = mine_to_dataset(cfg)
    GlobalHydra.instance().clear()
    return out, summary


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["n-tuple", "labeled-list"])
def test_train_on_a_zelo_mine_output(make_cfg, tmp_path: Path, cache_dir: Path, fmt: str):
    folder, summary = _mine(tmp_path, cache_dir, fmt)
    base = ["miner=precomputed", f"miner.scorer.path={folder}", "callbacks=none"]
    metrics = train(make_cfg(*base))
    assert metrics["run/miner"] == "precomputed" and metrics["run/control"] is None
    # the same queries, labelled positive and negatives as the mining run: the same FN rate
    assert metrics["mining/fn_rate"] == pytest.approx(summary["mining/fn_rate"])
    assert metrics["mining/source_ndcg@10"] == pytest.approx(summary["miner/ndcg@10"])
    assert 0 < metrics["miner/ndcg@10"] <= 1 and math.isfinite(metrics["test/ndcg@10"])
    assert metrics["mining/precomputed_scored"] == 1.0
    twin_cfg = make_cfg(*base, "miner.drop_judged=true")
    with open_dict(twin_cfg):  # its own run folder (the first run's is done and would be reused)
        twin_cfg.paths.output_dir = str(tmp_path / "twin")
    twin = train(twin_cfg)
    assert twin["mining/fn_rate"] == 0.0 and twin["run/control"] == "fn_free_twin"
    if summary["mining/fn_rate"] > 0:
        assert twin["mining/num_negatives"] < metrics["mining/num_negatives"]
