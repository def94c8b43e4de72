"""The bundle's manifest: every file's sha256 and size, and a digest of zelo's source."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from zelo.utils.io import sha256_file

MANIFEST = "manifest.json"
SOURCE_GLOBS = ("zelo/**/*.py", "conf/**/*.yaml", "bench/*", "train.py", "pyproject.toml")


class BundleError(RuntimeError):
    """The bundle cannot be built, or a built one is incomplete or changed."""


def file_table(root: Path) -> dict[str, dict]:
    """``{relative path: {"sha256", "bytes"}}`` of every file under ``root`` but the manifest."""
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST:
            table[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def source_digest(repo: Path) -> str:
    """sha256 over zelo's source, configs and bench scripts (paths and contents, sorted)."""
    h = hashlib.sha256()
    files = sorted({p for pattern in SOURCE_GLOBS for p in repo.glob(pattern) if p.is_file()})
    for path in files:
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(repo).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def verify(root: str | os.PathLike) -> dict:
    """The manifest of the bundle at ``root``, after checking every file against it.

    Raises:
        BundleError: the manifest is missing, or a file is missing, extra or changed.
    """
    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BundleError(f"{root / MANIFEST}: no readable manifest ({err})") from err
    want, have = manifest["files"], file_table(root)
    problems = [f"missing {p}" for p in sorted(set(want) - set(have))]
    problems += [f"not in the manifest: {p}" for p in sorted(set(have) - set(want))]
    problems += [
        f"changed {p} (sha256 {have[p]['sha256'][:12]}..., manifest {want[p]['sha256'][:12]}...)"
        for p in sorted(set(want) & set(have))
        if have[p]["sha256"] != want[p]["sha256"]
    ]
    if problems:
        raise BundleError(f"{root}: " + "; ".join(problems))
    return manifest
