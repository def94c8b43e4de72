"""Every real collection loads with its quirks reported and trains end to end.

The short runs use the static student and random negatives (no MiniLM encode), 64 training and
32 evaluation queries, one epoch.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pytest
import yaml
from hydra.utils import instantiate

from zelo.data.beir import load_beir
from zelo.data.splits import resolve_splits
from zelo.pipeline import train

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
SHORT = (
    "model=static",
    "miner=random",
    "trainer.max_epochs=1",
    "data.max_train_queries=64",
    "data.max_eval_queries=32",
    "logger=csv",
)
# dataset -> queries per split after resolve_splits (split_seed 0) and where dev comes from
SPLITS = {
    "nfcorpus": ({"train": 2590, "dev": 324, "test": 323}, "dev"),
    "scifact": ({"train": 647, "dev": 162, "test": 300}, "0.2 of train"),
    "cranfield": ({"train": 120, "dev": 30, "test": 75}, "0.2 of train"),
    "vaswani": ({"train": 46, "dev": 19, "test": 28}, "0.2 of test"),
    "med": ({"train": 15, "dev": 6, "test": 9}, "0.2 of test"),
}


def need(name: str) -> Path:
    if not (DATA_DIR / name).is_dir():
        pytest.fail(f"no {name} under {DATA_DIR}: set ZELO_DATA_DIR to the BEIR collections")
    return DATA_DIR / name


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_dataset_config_resolves_splits(make_cfg, name: str) -> None:
    need(name)
    cfg = make_cfg(f"dataset={name}")
    collection = instantiate(cfg.dataset.source)
    splits = resolve_splits(collection, **cfg.dataset.splits, seed=cfg.dataset.split_seed)
    counts, dev_from = SPLITS[name]
    assert {s: len(q) for s, q in splits.items()} == counts
    info = collection.info["splits"]
    assert info["dev"]["from"] == dev_from
    assert info["seeded"] is (name != "nfcorpus")
    assert info["seed"] == (None if name == "nfcorpus" else 0)


def test_nfcorpus_duplicates_are_reported(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="zelo.data.beir"):
        c = load_beir(need("nfcorpus"))
    assert len(c.info["duplicate_doc_groups"]) == 40
    assert ["MED-118", "MED-2651"] in c.info["duplicate_doc_groups"]
    assert "nfcorpus: 40 groups of documents with identical text" in caplog.text


def test_cranfield_empty_documents_are_kept_and_counted(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="zelo.data.beir"):
        c = load_beir(need("cranfield"))
    assert c.info["empty_docs"] == {"count": 2, "ids": ["471", "995"]}
    assert len(c.doc_ids) == 1400 and c.doc_texts[c.doc_index["995"]] == ""
    assert c.qrels["train"]["125"]["995"] == 2  # an empty document judged relevant
    assert "2 empty documents" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scifact", "cranfield", "vaswani", "med"])
def test_short_run_end_to_end(make_cfg, tmp_path: Path, name: str) -> None:
    need(name)
    metrics = train(make_cfg(f"dataset={name}", *SHORT))
    for key in ("test/ndcg@10", "test/ndcg@10_before"):
        assert metrics[key] is not None and math.isfinite(metrics[key]), key
        assert 0.0 < metrics[key] <= 1.0, (key, metrics[key])
    assert metrics["run/dataset"] == name
    info = json.loads((tmp_path / "collection_info.json").read_text())
    assert info["splits"]["seeded"] is True and info["splits"]["seed"] == 0
    assert {s: info["splits"][s]["queries"] for s in ("train", "dev", "test")} == SPLITS[name][0]
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["dataset"]["splits"]["dev"] is None
    assert config["dataset"]["split_seed"] == 0
