"""Atomic file writes and zelo's temporary files: a crash never leaves a half-written result, and
no temporary file outlives its writer for long.

Every temporary file or folder zelo makes is created beside its target under a fresh name,
``.<target>.zelo-<host>-<pid>-<random>.tmp``, with ``O_CREAT | O_EXCL`` (a folder with ``mkdir``),
so it is never a file or a link someone else planted. A writer removes its temporary on any
error; :func:`sweep_temporaries` removes those a killed writer left behind (its process is gone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
# a temporary of another host is stale once it is this old (its process cannot be asked)
FOREIGN_HOST_STALE_S = 24 * 3600.0
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.zelo-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{8}")


def host_tag() -> str:
    """Six hex digits naming this machine in temporary names (a hash of the host name)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def temporary_name(path: Path, suffix: str = TMP_SUFFIX) -> Path:
    """A fresh hidden name beside ``path``, recognisable as this process's temporary."""
    token = f"zelo-{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.name}.{token}{suffix}")


def create_temporary(path: Path, suffix: str = TMP_SUFFIX) -> tuple[int, Path]:
    """Create a new empty temporary file beside ``path`` (``O_EXCL``: never an existing file or
    link) and return its open descriptor (read/write) and its name. Mode: 0666 less the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temporary_name(path, suffix)
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # 32 random bits taken: draw again
            continue


def create_temporary_folder(path: Path) -> Path:
    """Create a new empty temporary folder beside ``path`` (mode 0777 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temporary_name(path)
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


def remove_temporary(tmp: Path) -> None:
    """Remove a temporary file or folder this process created (a link is unlinked, never
    followed); a missing one is fine."""
    try:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def temporary_file(path: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """``(binary file, name)`` of a new temporary beside ``path``; removed if the block raises."""
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh, tmp
    except BaseException:
        remove_temporary(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The file gets the mode of any new file (0666 less the umask: 0644 under the usual 022), so
    teammates on a shared machine can read results. On any error the temporary is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    with temporary_file(path) as (fh, tmp):
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, path)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (keys sorted), atomically."""
    return atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n"
    )


def stale_temporaries(folder: Path, target: str | None = None, exclusive: bool = False) -> list:
    """zelo's temporaries in ``folder`` (of ``target`` only, if given) whose writer is gone.

    Args:
        folder: where to look (not recursive).
        target: the name the temporaries were meant to become (``None``: any).
        exclusive: the caller holds the lock that every writer of these targets takes, so any
            temporary of them is stale (else: only those whose process no longer runs on this
            host, or of another host and older than a day).

    Returns:
        Paths of files and folders owned by this user; links and others' files are left alone.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        match = _TMP_NAME.match(entry.name)
        if match is None or (target is not None and match["target"] != target):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if entry.is_symlink() or info.st_uid != os.getuid():
            continue
        if exclusive or _writer_gone(match["host"], int(match["pid"]), info.st_mtime):
            found.append(Path(entry.path))
    return found


def sweep_temporaries(folder: Path, target: str | None = None, exclusive: bool = False) -> int:
    """Remove :func:`stale_temporaries`; returns how many were removed (logged once)."""
    stale = stale_temporaries(folder, target, exclusive)
    for tmp in stale:
        remove_temporary(tmp)
    if stale:
        log.info("removed %d temporary file(s) a stopped run left in %s", len(stale), folder)
    return len(stale)


def _writer_gone(host: str, pid: int, mtime: float) -> bool:
    if host != host_tag():
        return time.time() - mtime > FOREIGN_HOST_STALE_S
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def sha256_file(path: str | os.PathLike, block: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in blocks (model weights, GGUF parts, bundle members)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()
