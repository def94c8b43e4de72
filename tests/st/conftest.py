"""Fixtures: the ``zelo-mine`` config, a tiny SentenceTransformer folder, a pairs dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from zelo.schemas import register_configs

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))

TINY = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}


@pytest.fixture
def make_mine_cfg(tmp_path: Path, cache_dir: Path) -> Iterator:
    """``make_mine_cfg(*overrides)``: ``conf/mine.yaml`` on the tiny synthetic set, paths in tmp."""

    def _make(*overrides: str) -> DictConfig:
        register_configs()
        GlobalHydra.instance().clear()
        base = ["dataset=synthetic_tiny", f"output_dir={tmp_path / 'mined'}"]
        with initialize(config_path="../../conf", version_base="1.3"):
            cfg = compose("mine", overrides=[*base, *overrides], return_hydra_config=True)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.cache_dir = str(cache_dir)
            cfg.paths.data_dir = str(DATA_DIR)
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
            cfg.hydra.job.num = 0
        HydraConfig().set_config(cfg)
        return cfg

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT (MiniLM's tokenizer) saved as a SentenceTransformer folder."""
    from zelo.models.transformer import TransformerEncoder

    torch.manual_seed(0)
    enc = TransformerEncoder("minilm", max_length=64, pretrained=False, config_overrides=TINY)
    return enc.save_sentence_transformer(tmp_path_factory.mktemp("tiny_st") / "model")


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    """Five (query, answer) pairs, one query twice, saved with ``save_to_disk``; and a corpus."""
    import datasets

    pairs = {
        "query": ["heat flow", "heat flow", "star light", "rock layers", "sea salt"],
        "answer": ["conduction of heat", "convection currents", "stellar spectra",
                   "sediment strata", "ocean salinity"],
        "id": [1, 2, 3, 4, 5],
    }  # fmt: skip
    datasets.Dataset.from_dict(pairs).save_to_disk(str(tmp_path / "pairs"))
    corpus = {"text": ["volcanic rock", "heat of stars", "ocean currents", "stellar spectra"]}
    datasets.Dataset.from_dict(corpus).save_to_disk(str(tmp_path / "corpus"))
    return tmp_path
