"""On-disk embedding cache: the jobs of a sweep that share a scorer encode the corpus once.

An entry is ``<cache_dir>/<key>.npy`` (float32 ``[len(texts), D]``) plus a ``<key>.json``
sidecar that says what made it. The key hashes the encoder's fingerprint (weights and settings),
the query/document side and every text, so a changed encoder or corpus never hits a stale entry.
A miss is encoded in chunks streamed to disk (:class:`~zelo.retrieval.embeddings.NpyRowWriter`):
a killed encoding resumes from its last chunk, and only one chunk is held in memory until the
finished file is read back once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from zelo.retrieval.embeddings import NpyRowWriter
from zelo.utils.io import atomic_write_json
from zelo.utils.progress import EncodeProgress

if TYPE_CHECKING:
    from zelo.types import TextEncoder as Encoder

log = logging.getLogger(__name__)

CHUNK_ROWS = 16384  # texts encoded per chunk written to disk


def cache_key(fingerprint: str, texts: list[str], is_query: bool) -> str:
    """sha256 hex of the encoder fingerprint, the side and the texts (length-prefixed)."""
    h = hashlib.sha256(f"zelo-emb-v1|{fingerprint}|{int(is_query)}|{len(texts)}|".encode())
    for text in texts:
        b = text.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _load(path: Path, count: int, dim: int) -> torch.Tensor | None:
    """The cached array, or ``None`` (with a warning) when it is unreadable or has the wrong shape."""
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
    return torch.from_numpy(arr)


def _encode_to(
    path: Path, encoder: Encoder, texts: list[str], batch_size: int, is_query: bool, report: bool
) -> None:
    """Encode ``texts`` in chunks of :data:`CHUNK_ROWS` into ``path``, resuming a killed run."""
    writer = NpyRowWriter(path, len(texts), encoder.dim)
    what = "queries" if is_query else "documents"
    left = len(texts) - writer.rows_done
    progress = (
        EncodeProgress(what, left, encoder.label, "cached for later runs") if report else None
    )
    for start in range(writer.rows_done, len(texts), CHUNK_ROWS):
        chunk = texts[start : start + CHUNK_ROWS]
        writer.write(encoder.encode(chunk, batch_size, is_query=is_query, progress=progress))
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
    try:
        _encode_to(path, encoder, texts, batch_size, is_query, progress)
    except OSError as err:
        log.warning("embedding cache: could not write %s (%s): continuing uncached", path, err)
        return encoder.encode(texts, batch_size=batch_size, is_query=is_query)
    seconds = time.perf_counter() - start
    meta = {"fingerprint": fingerprint, "is_query": is_query, "encode_seconds": round(seconds, 3)}
    _write_sidecar(path, encoder, len(texts), meta)
    log.info("embedding cache miss: encoded %d %s in %.1f s -> %s", len(texts), side, seconds, path)
    emb = _load(path, len(texts), encoder.dim)
    if emb is None:
        raise RuntimeError(f"embedding cache: {path} was written but cannot be read back")
    return emb
