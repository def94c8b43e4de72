"""A full disk leaves no debris and names its cause in one line: temporaries go on any error,
stale ones are swept when the job starts again, and the failure record is tiny and last-ditch."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import pytest
import torch

from zelo.errors import zelo_cause
from zelo.pipeline import train
from zelo.run import outcome
from zelo.run.job import job_slot


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_checkpointing_onto_a_full_disk(make_cfg, tmp_path: Path, monkeypatch, caplog) -> None:
    def half_written(obj, f, *args, **kwargs):
        f.write(bytes(1 << 20))  # a MiB went to disk, then the disk is full
        no_space()

    monkeypatch.setattr(torch, "save", half_written)
    monkeypatch.setattr(outcome, "atomic_write_json", no_space)  # nor can a record be renamed
    cfg = make_cfg("miner=random", "callbacks=none")
    cfg.checkpoint.every_n_minutes = 1e-6  # a checkpoint at the first batch
    with pytest.raises(BaseException) as err:
        train(cfg)
    ckpts = tmp_path / "checkpoints"
    assert (list(ckpts.iterdir()) if ckpts.exists() else []) == []  # no temporary left
    record = json.loads((tmp_path / "failed.json").read_text())  # the last-ditch one
    assert record["exit_code"] == 1 and "no space left" in record["error"]
    assert len((tmp_path / "failed.json").read_bytes()) < 1000
    from zelo.errors import DiskFull

    cause = zelo_cause(err.value)
    assert isinstance(cause, DiskFull) and "checkpoint" in str(cause) and "\n" not in str(cause)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        outcome.report(err.value)  # a single run: one line, exit 1, no traceback
    assert stop.value.code == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][-1] == str(cause)


def test_a_job_sweeps_the_temporaries_a_killed_run_left(tmp_path: Path) -> None:
    from zelo.utils.io import host_tag

    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    # ours (any process: the job's lock makes this process the folder's only writer)
    stale = [
        ckpts / f".last.ckpt.zelo-{host_tag()}-{os.getpid()}-0123abcd.tmp",
        tmp_path / f".metrics.json.zelo-{host_tag()}-1-89abcdef.tmp",
    ]
    for path in stale:
        path.write_bytes(bytes(1 << 20))
    theirs = ckpts / ".last.ckpt.tmp"  # not a zelo temporary name: left alone
    theirs.write_text("x")
    with job_slot(tmp_path) as lock:
        assert lock.held
        assert not any(p.exists() for p in stale) and theirs.exists()


def test_no_failure_record_is_explained_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(outcome, "atomic_write_json", no_space)
    monkeypatch.setattr(os, "open", no_space)
    assert not outcome.record_failure(tmp_path, OSError(errno.ENOSPC, "No space left", "x.ckpt"))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"zelo: no failed.json in {tmp_path} (")
    assert "the job failed: no space left on the device writing x.ckpt" in err[0]
