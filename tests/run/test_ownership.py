"""zelo runs nothing and deletes nothing it did not write: checkpoints load as tensors only, a run
removes only its own files, temporary files never go through a planted link, and unsafe output
folders are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zelo.pipeline import train
from zelo.retrieval.embeddings import NpyRowWriter
from zelo.utils.io import atomic_write_json

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this creates ``path``: what a planted checkpoint could do instead."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_run_loads_tensors_only_and_deletes_only_its_own_files(make_cfg, tmp_path: Path) -> None:
    marker = tmp_path.parent / f"{tmp_path.name}-pwned"
    last = tmp_path / "checkpoints" / "last.ckpt"
    mine = tmp_path / "checkpoints" / "my_model.pt"
    notes = tmp_path / "student" / "README.md"
    for path in (mine, notes):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's")
    torch.save({"state_dict": {}, "payload": Payload(marker)}, last)  # planted, runs code
    cfg = make_cfg("miner=random", "callbacks=none", "save_student=true")
    cfg.checkpoint.every_n_minutes = 1e-6  # a checkpoint of its own at every batch
    metrics = train(cfg)
    assert not marker.exists(), "the planted checkpoint ran code"
    assert metrics["trainer/global_step"] > 0  # started again, from scratch
    assert (tmp_path / "checkpoints" / "last.ckpt.corrupt").exists()  # moved aside, kept
    assert mine.read_text() == "the user's" and notes.read_text() == "the user's"
    assert not last.exists()  # its own checkpoint went
    assert (tmp_path / "student" / "modules.json").exists()  # the student is saved beside
    assert not [p for p in tmp_path.rglob("*") if ".zelo-" in p.name]  # no temporary left


def test_a_short_job_writes_no_checkpoint(make_cfg, monkeypatch) -> None:
    import lightning.pytorch as pl

    saved = []
    original = pl.Trainer.save_checkpoint
    monkeypatch.setattr(
        pl.Trainer,
        "save_checkpoint",
        lambda self, path, *a, **kw: (saved.append(path), original(self, path, *a, **kw)),
    )
    train(make_cfg("miner=random", "callbacks=none", "trainer.max_epochs=2"))
    assert saved == []  # under checkpoint.every_n_minutes of training: nothing to save


def test_replacing_a_folder_keeps_files_zelo_did_not_write(tmp_path: Path) -> None:
    from zelo.utils.owned import MANIFEST, install_folder

    dest = tmp_path / "student"
    first = tmp_path / "new1"
    (first / "sub").mkdir(parents=True)
    (first / "weights.bin").write_text("v1")
    (first / "sub" / "old.json").write_text("only in v1")
    install_folder(first, dest)
    assert (dest / MANIFEST).exists() and not first.exists()
    (dest / "README.md").write_text("mine")  # the user's files
    (dest / "config.json").write_text("mine too")
    second = tmp_path / "new2"
    second.mkdir()
    (second / "weights.bin").write_text("v2")
    (second / "config.json").write_text("zelo's")
    kept = install_folder(second, dest)
    assert kept == ["README.md", "config.json"]
    assert (dest / "weights.bin").read_text() == "v2" and not (dest / "sub").exists()
    assert (dest / "README.md").read_text() == "mine"
    assert (dest / "config.json").read_text() == "mine too"
    assert (dest / "config.json.zelo").read_text() == "zelo's"  # the new one, beside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student"]


def plant_link(path: Path, victim: Path) -> None:
    victim.write_text("precious")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(victim, path)


def test_no_temporary_file_goes_through_a_planted_link(tmp_path: Path) -> None:
    faiss_index = pytest.importorskip("zelo.retrieval.faiss_index")
    import faiss

    cache = tmp_path / "cache"
    victims = {name: tmp_path / f"victim-{name}" for name in ("index", "partial", "json")}
    # the names a neighbour could predict: the fixed temporary names of earlier versions
    plant_link(cache / ".key.ivf.faiss.tmp", victims["index"])
    plant_link(cache / "emb.npy.partial", victims["partial"])
    plant_link(cache / ".emb.json.tmp", victims["json"])
    index = faiss.IndexFlatIP(4)
    index.add(np.eye(4, dtype=np.float32))
    faiss_index.save_index(index, cache / "key.ivf.faiss")
    writer = NpyRowWriter(cache / "emb.npy", 2, 4)
    writer.write(np.ones((2, 4), dtype=np.float32))
    writer.finish()
    atomic_write_json(cache / "emb.json", {"a": 1})
    assert all(v.read_text() == "precious" for v in victims.values())
    assert faiss_index.load_index(cache / "key.ivf.faiss").ntotal == 4
    assert not (cache / "key.ivf.faiss").is_symlink()
    assert np.array_equal(np.load(cache / "emb.npy"), np.ones((2, 4), dtype=np.float32))


@pytest.mark.parametrize(
    ("key", "folder"), [("hydra.run.dir", "/"), ("hydra.run.dir", "HOME"), ("hydra.sweep.dir", "/")]
)
def test_an_unsafe_output_folder_is_refused_before_anything_is_written(
    tmp_path: Path, key: str, folder: str
) -> None:
    if folder == "HOME":  # a folder holding someone's files, not a run folder
        folder = str(tmp_path / "home")
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "config.yaml").write_text("theirs\n")
    args = ["-m", "miner=random,topk"] if key == "hydra.sweep.dir" else []
    proc = subprocess.run(
        [sys.executable, "train.py", *args, "debug=tiny", f"{key}={folder}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 2, log[-2000:]
    assert f"{key}={folder} exists, is not empty and is not a folder zelo made" in log
    assert "Traceback" not in log and not Path(folder, "train.log").exists()
    assert not Path(folder, ".hydra").exists() and not Path(folder, "multirun.yaml").exists()
    if folder.endswith("home"):
        assert (tmp_path / "home" / "config.yaml").read_text() == "theirs\n"
