"""One writer per job folder: an advisory lock that a second launch respects and that dies with
its process.

The lock is ``fcntl.flock`` on ``<job>/.lock``: the kernel (or the NFS lock manager on a shared
file system) releases it when the holder exits, however it exits, so a lock left by a killed
process is stale by construction and the next launch simply takes it. The file records who holds
it (host, pid, time) for the message a skipped launch prints.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import IO

from zelo.keys import LOCK_FILE

log = logging.getLogger(__name__)


class JobLock:
    """Try to become the only writer of ``job_dir``.

    Use as a context manager; ``held`` says whether this process got the lock.

    Args:
        job_dir: the job folder (created if missing).
        name: the lock file's name in it.
    """

    def __init__(self, job_dir: str | Path, name: str = LOCK_FILE) -> None:
        self.path = Path(job_dir) / name
        self.held = False
        self.holder: dict | None = None  # who holds it, when this process does not
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lock if no live process holds it; return whether this process holds it.

        The other ranks of a distributed job (which Lightning starts from the same command) work
        under their rank 0's lock and never take it themselves.
        """
        if not primary_process():
            self.held = True
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # never truncate another holder's record before locking
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.holder = _read(fh)
            fh.close()
            return False
        previous = _read(fh)
        if previous and previous.get("pid") != os.getpid():
            log.info(
                "taking over the lock of %s left by %s (no longer running)",
                self.path,
                who(previous),
            )
        fh.seek(0)
        fh.truncate()
        fh.write(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})
        )
        fh.flush()
        self._fh, self.held = fh, True
        return True

    def release(self) -> None:
        """Give the lock up (the record stays; an unlocked record is stale by definition)."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
        self._fh, self.held = None, False

    def __enter__(self) -> JobLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def primary_process() -> bool:
    """Whether this is rank 0 of its job (always, outside distributed training)."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return all(os.environ.get(name, "0") == "0" for name in ranks)


def who(record: dict | None) -> str:
    """``pid 123 on host-a since 14:02:11`` from a lock record."""
    if not record:
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(record.get("since", 0)))
    return f"pid {record.get('pid')} on {record.get('host')} since {since}"


def _read(fh: IO[str]) -> dict | None:
    fh.seek(0)
    try:
        record = json.loads(fh.read() or "null")
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
