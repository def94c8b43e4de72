"""The data's seeds follow the run seed, so a spread over seeds includes the collection's and the
split's; either can be pinned; metrics.json records both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from zelo.pipeline import train

DATASETS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("name", DATASETS)
def test_the_split_seed_follows_the_run_seed(make_cfg, name: str) -> None:
    cfg = make_cfg(f"dataset={name}", "seed=7")
    assert cfg.dataset.split_seed == 7
    pinned = make_cfg(f"dataset={name}", "seed=7", "dataset.split_seed=0")
    assert pinned.dataset.split_seed == 0


def test_the_generated_collection_follows_the_run_seed(make_cfg) -> None:
    seeds = [make_cfg("dataset=synthetic_tiny", f"seed={s}").dataset.source.seed for s in (0, 3)]
    assert seeds == [0, 3]
    one, other = (instantiate(make_cfg(f"seed={s}").dataset.source) for s in (0, 3))
    assert one.doc_texts != other.doc_texts  # another collection, not only another order
    pinned = make_cfg("seed=3", "dataset.source.seed=0")
    assert pinned.dataset.source.seed == 0
    assert instantiate(pinned.dataset.source).doc_texts == one.doc_texts
    onefacet = OmegaConf.to_container(
        make_cfg("dataset=synthetic_onefacet", "seed=2"), resolve=True
    )
    assert onefacet["dataset"]["source"]["seed"] == 2


def test_metrics_record_the_data_seeds(make_cfg, tmp_path: Path) -> None:
    train(make_cfg("miner=random", "callbacks=none", "seed=2"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["run/seed"] == 2 and metrics["run/collection_seed"] == 2
    assert metrics["run/split_seed"] is None  # the generator drew the splits: none was drawn
