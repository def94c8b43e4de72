"""One writer per job folder: a live holder keeps it, a dead holder's lock is taken over."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from zelo.keys import LOCK_FILE
from zelo.run.lock import JobLock


def test_a_held_folder_is_refused_and_names_its_holder(tmp_path: Path) -> None:
    with JobLock(tmp_path) as first:
        assert first.held
        second = JobLock(tmp_path)
        assert not second.acquire()
        assert second.holder["pid"] == os.getpid()
    third = JobLock(tmp_path)
    assert third.acquire()  # released: free again
    third.release()


def test_a_lock_held_by_another_live_process_is_respected(tmp_path: Path) -> None:
    code = (
        "import sys, time; from zelo.run.lock import JobLock; "
        f"lock = JobLock({str(tmp_path)!r}); assert lock.acquire(); print('held', flush=True); "
        "sys.stdin.readline()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = JobLock(tmp_path)
        assert not lock.acquire()
        assert lock.holder["pid"] == holder.pid
    finally:
        holder.communicate("\n", timeout=30)
    assert JobLock(tmp_path).acquire()  # the holder exited: its lock went with it


def test_a_stale_lock_is_taken_over(tmp_path: Path, caplog) -> None:
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "gone", "pid": 999999, "since": 0}))
    lock = JobLock(tmp_path)
    with caplog.at_level(logging.INFO):
        assert lock.acquire()
    assert "no longer running" in caplog.text and "pid 999999" in caplog.text
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()


def test_other_ranks_of_a_distributed_job_work_under_rank_zero_lock(
    tmp_path: Path, monkeypatch
) -> None:
    with JobLock(tmp_path) as rank_zero:
        assert rank_zero.held
        monkeypatch.setenv("LOCAL_RANK", "1")
        assert JobLock(tmp_path).acquire()  # a DDP child started by Lightning: no deadlock
