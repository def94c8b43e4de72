"""On-disk embedding cache: the jobs of a sweep that share a scorer encode the corpus once.

An entry is ``<cache_dir>/<key>.npy`` (float32 ``[len(texts), D]``) plus a ``<key>.json``
sidecar that says what made it. The key hashes the encoder's fingerprint (weights and settings),
the query/document side and every text, so a changed encoder or corpus never hits a stale entry.
A miss is encoded in chunks streamed to disk (:class:`~zelo.retrieval.embeddings.NpyRowWriter`):
a killed encoding resumes from its last chunk, and only one chunk is held in memory until the
finished file is read back once. The sidecar keeps each chunk's xxh3-64 checksum, and every read
checks it (in full the first time a process reads the file, on sampled blocks after), so a damaged
entry is encoded again instead of being used. Processes that miss the same entry at once (two
sweeps sharing a cache) take turns on ``<key>.npy.lock``: the first encodes, the others wait and
read its file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from zelo.retrieval.embeddings import NpyRowWriter, block_checksum
from zelo.utils.io import atomic_write_json, sweep_temporaries
from zelo.utils.progress import EncodeProgress

if TYPE_CHECKING:
    from zelo.types import TextEncoder as Encoder

log = logging.getLogger(__name__)

CHUNK_ROWS = 16384  # texts encoded per chunk written to disk (one checksum block each)
SAMPLED_BLOCKS = 2  # random blocks checked on a repeated read, besides the first and last
_verified: dict[str, tuple[int, int, int]] = {}  # path -> (inode, size, mtime) checked in full


def cache_key(fingerprint: str, texts: list[str], is_query: bool) -> str:
    """sha256 hex of the encoder fingerprint, the side and the texts (length-prefixed)."""
    h = hashlib.sha256(f"zelo-emb-v1|{fingerprint}|{int(is_query)}|{len(texts)}|".encode())
    for text in texts:
        b = text.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _load(path: Path, count: int, dim: int) -> torch.Tensor | None:
    """The cached array, or ``None`` (with a warning) when it is unreadable, has the wrong shape
    or fails its checksum (see :func:`checksum_problem`)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        log.warning("embedding cache: unreadable %s (%s): recomputing", path, err)
        return None
    if arr.shape != (count, dim) or arr.dtype != np.float32:
        log.warning(
            "embedding cache: %s holds %s %s, expected (%d, %d) float32: recomputing",
            path,
            arr.shape,
            arr.dtype,
            count,
            dim,
        )
        return None
    problem = checksum_problem(path, arr)
    if problem is not None:
        log.warning("embedding cache: %s %s: recomputing", path, problem)
        return None
    return torch.from_numpy(arr)


def checksum_problem(path: Path, arr: np.ndarray) -> str | None:
    """Why ``arr`` (read from ``path``) does not match the checksum in its sidecar, or ``None``.

    The first read of a file by this process checks every block; later reads of the unchanged
    file check the first, the last and :data:`SAMPLED_BLOCKS` random blocks.
    """
    try:
        blocks = json.loads(path.with_suffix(".json").read_text())["checksum"]["blocks"]
        rows = [int(r) for r, _ in blocks]
    except (OSError, ValueError, KeyError, TypeError):
        return "has no checksum (an entry from before checksums)"
    if sum(rows) != len(arr):
        return f"has a checksum of {sum(rows)} rows for {len(arr)}"
    info = path.stat()
    stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
    full = _verified.get(str(path)) != stamp
    picks = range(len(blocks))
    if not full:  # a random draw that leaves the global random state alone
        n = len(blocks)
        draw = random.Random(os.urandom(8)).sample(range(n), k=min(n, SAMPLED_BLOCKS))
        picks = sorted({0, n - 1, *draw})
    starts = np.cumsum([0, *rows])
    for i in picks:
        if block_checksum(arr[starts[i] : starts[i + 1]]) != int(blocks[i][1]):
            _verified.pop(str(path), None)
            return f"fails its checksum (rows {starts[i]}-{starts[i + 1] - 1})"
    if full:
        _verified[str(path)] = stamp
    return None


def _encode_to(
    path: Path,
    encoder: Encoder,
    texts: list[str],
    batch_size: int,
    is_query: bool,
    report: bool,
    meta: dict,
) -> None:
    """Encode ``texts`` in chunks of :data:`CHUNK_ROWS` into ``path``, resuming a killed run;
    the sidecar (with each chunk's checksum) is written before the file is put in place."""
    start = time.perf_counter()
    writer = NpyRowWriter(path, len(texts), encoder.dim)
    what = "queries" if is_query else "documents"
    left = len(texts) - writer.rows_done
    progress = (
        EncodeProgress(what, left, encoder.label, "cached for later runs") if report else None
    )
    for first in range(writer.rows_done, len(texts), CHUNK_ROWS):
        chunk = texts[first : first + CHUNK_ROWS]
        writer.write(encoder.encode(chunk, batch_size, is_query=is_query, progress=progress))
    meta = {**meta, "encode_seconds": round(time.perf_counter() - start, 3)}
    meta["checksum"] = {"algorithm": "xxh3_64", "blocks": writer.blocks}
    _write_sidecar(path, encoder, len(texts), meta)
    writer.finish()


def _write_sidecar(path: Path, encoder: Encoder, count: int, meta: dict) -> None:
    """The ``.json`` beside an entry: ``meta`` plus what the encoder says about itself."""
    atomic_write_json(
        path.with_suffix(".json"),
        {
            "encoder": encoder.describe(),
            "count": count,
            "dim": int(encoder.dim),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **meta,
        },
    )


@contextmanager
def encoding_turn(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` (``flock``, released by the kernel however the holder exits) while
    ``path`` is encoded; a second process missing the same entry waits here, saying so once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("embedding cache: another process is encoding %s; waiting for it", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def cached_encode(
    encoder: Encoder,
    texts: list[str],
    cache_dir: str | Path | None,
    batch_size: int = 64,
    is_query: bool = False,
    progress: bool = False,
) -> torch.Tensor:
    """``encoder.encode(texts, ...)``, read from or written to ``cache_dir``.

    Args:
        encoder: any :class:`~zelo.models.encoders.Encoder`.
        texts: texts to encode.
        cache_dir: cache folder (created on first write); ``None`` disables caching.
        batch_size: texts per forward pass on a miss.
        is_query: encode as queries (part of the key).
        progress: on a miss, announce a long encode's size and ETA and follow it in the log.

    Returns:
        ``[len(texts), D]`` float32 on CPU.
    """
    if cache_dir is None or not texts:
        return encoder.encode(texts, batch_size=batch_size, is_query=is_query)
    start = time.perf_counter()
    fingerprint = encoder.fingerprint()
    path = Path(cache_dir) / f"{cache_key(fingerprint, texts, is_query)}.npy"
    side = "queries" if is_query else "docs"
    if path.exists():
        emb = _load(path, len(texts), encoder.dim)
        if emb is not None:
            log.info(
                "embedding cache hit: %d %s from %s in %.2f s",
                len(texts),
                side,
                path,
                time.perf_counter() - start,
            )
            return emb
    meta = {"fingerprint": fingerprint, "is_query": is_query}
    try:
        with encoding_turn(path):
            if path.exists():  # encoded by the process this one waited for
                emb = _load(path, len(texts), encoder.dim)
                if emb is not None:
                    log.info(
                        "embedding cache hit after waiting: %d %s from %s", len(texts), side, path
                    )
                    return emb
            sweep_temporaries(Path(cache_dir))  # those of killed writers
            _encode_to(path, encoder, texts, batch_size, is_query, progress, meta)
    except OSError as err:
        log.warning("embedding cache: could not write %s (%s): continuing uncached", path, err)
        return encoder.encode(texts, batch_size=batch_size, is_query=is_query)
    seconds = time.perf_counter() - start
    log.info("embedding cache miss: encoded %d %s in %.1f s -> %s", len(texts), side, seconds, path)
    emb = _load(path, len(texts), encoder.dim)
    if emb is None:
        raise RuntimeError(f"embedding cache: {path} was written but cannot be read back")
    return emb
