"""The console scripts: ``--version`` is zelo's, and a run that never started leaves no folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zelo
from zelo.cli import discard_run_dir


@pytest.mark.parametrize("app", ["zelo-train", "zelo-mine"])
def test_version_is_zelos(app: str) -> None:
    exe = Path(sys.executable).parent / app
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == f"{app} (zelo) {zelo.__version__}\n"


def test_a_preamble_only_run_folder_goes_with_its_empty_parents(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "outputs" / "mine" / "runs" / "2026-01-01_00-00-00"
    (run / ".hydra").mkdir(parents=True)
    for name in ("mine.log", "failed.json", ".lock", "config.yaml"):
        (run / name).write_text("x")
    (tmp_path / "outputs" / "train").mkdir()  # another task's folder stays
    assert discard_run_dir(run)
    assert (
        not (tmp_path / "outputs" / "mine").exists() and (tmp_path / "outputs" / "train").exists()
    )


def test_a_run_folder_with_anything_else_is_kept(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("x")
    (run / "metrics.json").write_text("{}")
    assert not discard_run_dir(run) and (run / "metrics.json").exists()
    (run / "metrics.json").unlink()
    (run / "notes.txt").write_text("mine")  # not zelo's
    assert not discard_run_dir(run) and (run / "notes.txt").exists()
    assert not discard_run_dir(tmp_path / "absent")


def test_the_working_directory_and_older_files_are_never_removed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.log").write_text("x")
    assert not discard_run_dir(tmp_path) and (tmp_path / "run.log").exists()
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text("mine")
    os.utime(old / "config.yaml", (1, 1))  # written long before this run
    assert not discard_run_dir(old) and (old / "config.yaml").exists()
