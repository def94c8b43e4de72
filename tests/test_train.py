"""End-to-end runs of ``zelo.pipeline.train`` on the tiny preset (real FAISS, real tokenizer)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from zelo.pipeline import train

REPO = Path(__file__).resolve().parents[1]
REQUIRED = [
    "test/ndcg@10",
    "test/ndcg@10_before",
    "test/recall@100",
    "test/mrr@10",
    "val/ndcg@10",
    "train/loss",
    "miner/ndcg@10",
    "mining/fn_rate",
]


def test_fast_dev_run_smoke(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg("trainer.fast_dev_run=true", "miner=random")
    metrics = train(cfg)
    assert metrics["trainer/global_step"] == 1
    assert (tmp_path / "metrics.json").exists()


def test_tiny_run_writes_metrics_and_config(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg("miner=topk", "trainer.max_epochs=2")
    umask = os.umask(0o022)
    try:
        metrics = train(cfg)
    finally:
        os.umask(umask)
    for name in ("metrics.json", "config.yaml", "collection_info.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name  # teammates can read
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    for key in REQUIRED:
        assert key in on_disk, key
        assert on_disk[key] is not None and math.isfinite(on_disk[key]), key
    for key in ("test/ndcg@10", "test/ndcg@10_before", "test/recall@100", "miner/ndcg@10"):
        assert 0.0 <= on_disk[key] <= 1.0
    assert 0.0 <= on_disk["mining/fn_rate"] <= 1.0
    assert on_disk["run/miner"] == "topk"
    assert on_disk["trainer/epochs"] == 2
    assert (tmp_path / "config.yaml").read_text().count("num_negatives: 2") == 1
    log = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    for column in ("mining/fn_rate", "fn/teacher_rate", "fn/inbatch_rate", "fn/student_above_pos"):
        values = log[column].dropna()  # the DataModule (mining/) and the FN monitor (fn/)
        assert len(values) and values.between(0, 1).all(), column
    assert log["fn/inbatch_rate"].dropna().size == 2  # once per epoch
    # the monitor's estimate reaches metrics.json too, with whose scores it compares
    assert on_disk["fn/teacher_rate"] == pytest.approx(log["fn/teacher_rate"].dropna().iloc[-1])
    assert on_disk["run/fn_teacher"] == "miner"


def test_mining_figures_are_logged_without_callbacks(make_cfg, tmp_path: Path) -> None:
    metrics = train(make_cfg("miner=random", "callbacks=none"))
    log = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    assert log["mining/fn_rate"].dropna().tolist() == pytest.approx([metrics["mining/fn_rate"]])
    assert log["miner/ndcg@10"].dropna().size == 1
    assert not [c for c in log.columns if c.startswith("fn/")]  # no monitor, no fn/ columns
    assert metrics["run/adaptive"] is False and metrics["run/control"] is None


def test_rerun_skips_finished_job(make_cfg, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    cfg = make_cfg()
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))  # as a run writes
    (tmp_path / "metrics.json").write_text(json.dumps({"test/ndcg@10": 0.5}))
    assert train(cfg) == {"test/ndcg@10": 0.5}


def test_missing_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            "dataset=nfcorpus",
            "logger=csv",
            f"paths.data_dir={tmp_path}/nowhere",
            f"hydra.run.dir={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2  # bad input: one line, even though Hydra wraps the error
    err = proc.stdout + proc.stderr
    errors = [line for line in err.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and f"{tmp_path}/nowhere/nfcorpus" in errors[0], err[-2000:]
    assert "ZELO_DATA_DIR" in err
    assert "Traceback" not in err and "HYDRA_FULL_ERROR" not in err
    assert not out.exists()  # a single run that never started leaves no folder


def test_wandb_offline_writes_run_folder(make_cfg, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = make_cfg("logger=default", "trainer.max_epochs=1", "miner=random")
    with open_dict(cfg):
        cfg.logger.wandb.project = "zelo-test"
    train(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list(tmp_path.rglob("*"))[:20]
    files = {p.name for p in runs[0].rglob("*")}
    assert any(name.endswith(".wandb") for name in files)
    import wandb

    assert wandb.run is None  # finished in `finally`


MINERS = sorted(p.stem for p in (REPO / "conf" / "miner").glob("*.yaml"))


@pytest.mark.parametrize("option", [m for m in MINERS if m not in ("cross_encoder", "precomputed")])
def test_every_miner_runs_end_to_end(make_cfg, tmp_path: Path, option: str) -> None:
    """cross_encoder has no weights offline: its end-to-end run (a tiny model saved to disk,
    through the same config) is in tests/mining/test_cross_encoder.py; precomputed needs a mined
    file: tests/mining/test_precomputed_run.py. A miner on a packaged model (`make models`) that
    is not installed must stop with the one-line error naming the install command."""
    from omegaconf import OmegaConf

    from zelo.errors import zelo_cause
    from zelo.models.packaged import INSTALL_COMMAND, is_installed, packaged_in

    cfg = make_cfg(f"miner={option}", "trainer.max_epochs=1", "callbacks=none")
    missing = [m for m in packaged_in(OmegaConf.to_container(cfg.miner)) if not is_installed(m)]
    if missing:
        with pytest.raises(Exception) as info:
            train(cfg)
        assert f"run `{INSTALL_COMMAND}`" in str(zelo_cause(info.value))
        return
    metrics = train(cfg)
    assert metrics["run/miner"] == option
    for key in ("test/ndcg@10", "miner/ndcg@10", "mining/fn_rate", "train/loss"):
        assert metrics[key] is not None and math.isfinite(metrics[key]), key
    assert metrics["mining/num_negatives"] > 0


def write_test_only_beir(folder: Path) -> Path:
    """The tiny synthetic collection as a BEIR folder whose qrels/ hold a test split only."""
    from zelo.data.synthetic import generate_collection

    c = generate_collection(num_docs=64, num_queries=24, num_topics=4, subtopics_per_topic=2)
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": d, "text": t} for d, t in zip(c.doc_ids, c.doc_texts, strict=True)]
    queries = [{"_id": q, "text": t} for q, t in zip(c.query_ids, c.query_texts, strict=True)]
    for name, records in (("corpus.jsonl", docs), ("queries.jsonl", queries)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = [
        f"{q}\t{d}\t{g}"
        for split in c.qrels.values()
        for q, j in split.items()
        for d, g in j.items()
    ]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows))
    return folder


def test_a_test_only_beir_folder_trains(make_cfg, tmp_path: Path) -> None:
    folder = write_test_only_beir(tmp_path / "beir_toy")
    metrics = train(
        make_cfg(
            "dataset=beir",
            f"dataset.path={folder}",
            "miner=random",
            "callbacks=none",
            "dataset.split_seed=3",
        )
    )
    assert metrics["run/dataset"] == "beir"
    splits = json.loads((tmp_path / "collection_info.json").read_text())["splits"]
    assert splits["seeded"] is True and splits["seed"] == 3
    assert splits["train"]["from"] == "rest of test" and splits["train"]["queries"] > 0
    assert sum(splits[s]["queries"] for s in ("train", "dev", "test")) == 24
