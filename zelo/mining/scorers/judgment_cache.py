"""A store of LLM judgments, so a sweep pays for each (model, prompt) once.

A judgment is one float (the log-odds of the first answer token over the second) under a key,
the sha256 of everything it depends on: the model's fingerprint (a packaged GGUF's checksum, a
folder's weight files), the dtype, the answer tokens, the token limit and the rendered prompt
(query, truncated document(s), instruction, chat template). Keys are content hashes rather than
query and document ids, which change meaning between splits and collections.

Entries live in memory and, with a folder, in ``<folder>/judgments.sqlite`` (one transaction per
batch: a crash keeps every finished batch; readers and writers in parallel jobs are safe).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

DB_NAME = "judgments.sqlite"


def judgment_key(*parts: str) -> str:
    """sha256 hex of the parts, each length-prefixed (no two part lists share a key)."""
    h = hashlib.sha256(b"zelo-judgment-v1")
    for part in parts:
        b = part.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


class JudgmentCache:
    """Judgments by key, in memory and optionally on disk.

    Args:
        folder: where ``judgments.sqlite`` lives (created on first write); ``None``: memory only.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.path = Path(folder) / DB_NAME if folder is not None else None
        self.memory: dict[str, float] = {}

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS judgments (key TEXT PRIMARY KEY, value REAL)")
        return con

    def get(self, keys: Iterable[str]) -> dict[str, float]:
        """The stored judgments among ``keys`` (missing keys are left out)."""
        keys = list(dict.fromkeys(keys))
        found = {k: self.memory[k] for k in keys if k in self.memory}
        todo = [k for k in keys if k not in found]
        if todo and self.path is not None and self.path.exists():
            con = self._connect()
            try:
                for start in range(0, len(todo), 500):
                    chunk = todo[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"SELECT key, value FROM judgments WHERE key IN ({marks})", chunk
                    ).fetchall()
                    found.update(rows)
            finally:
                con.close()
            self.memory.update({k: found[k] for k in todo if k in found})
        return found

    def put(self, items: Mapping[str, float]) -> None:
        """Store ``items`` (one transaction on disk)."""
        self.memory.update(items)
        if self.path is None or not items:
            return
        con = self._connect()
        try:
            with con:
                con.executemany(
                    "INSERT OR REPLACE INTO judgments (key, value) VALUES (?, ?)",
                    [(k, float(v)) for k, v in items.items()],
                )
        finally:
            con.close()

    def __len__(self) -> int:
        if self.path is None or not self.path.exists():
            return len(self.memory)
        con = self._connect()
        try:
            return int(con.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])
        finally:
            con.close()
