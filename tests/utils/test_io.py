"""Atomic writes honour the umask (results readable by teammates) and leave no temporary file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zelo.utils.io import atomic_write_json, atomic_write_text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_the_umask_mode(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "metrics.json", {"a": 1})
        atomic_write_text(tmp_path / "config.yaml", "a: 1\n")
    finally:
        os.umask(old)
    for name in ("metrics.json", "config.yaml"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "metrics.json"]
