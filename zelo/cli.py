"""What the console scripts (``zelo-train``, ``zelo-mine``) share around their Hydra apps:
``--version``, and no run folder left behind by a run that never started its work."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import zelo

log = logging.getLogger(__name__)

# what a run writes before its work starts: Hydra's log and config copy, the job lock, the
# resolved config and the collection's facts, the record of the failure
PREAMBLE_FILES = frozenset(
    {".hydra", ".lock", "config.yaml", "collection_info.json", "failed.json"}
)

STARTED = time.time()  # the console script's start: files older than this are not this run's
PARENT_LEVELS = 2  # <task>/runs/ above a run folder: removed too when the run leaves them empty


def print_version(argv: Sequence[str], app: str) -> bool:
    """Answer ``--version`` with zelo's version (Hydra would print its own); True when it did."""
    if "--version" not in argv[1:]:
        return False
    sys.stdout.write(f"{app} (zelo) {zelo.__version__}\n")
    return True


def discard_run_dir(run_dir: str | Path) -> bool:
    """Remove a run folder that holds only its preamble (see :data:`PREAMBLE_FILES`) and the
    app's ``*.log``, all written by this process: the run failed before it produced anything. A
    folder with anything else in it (results, checkpoints, a student, files from before this
    run, files zelo did not write) is kept, and so is the working directory or one above it.

    Returns:
        Whether the folder was removed.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        return False
    cwd = Path.cwd().resolve()
    if folder.resolve() in (cwd, *cwd.parents):
        return False
    entries = list(folder.iterdir())
    if any(p.name not in PREAMBLE_FILES and not p.name.endswith(".log") for p in entries):
        return False
    if any(p.stat().st_mtime < STARTED - 1 for p in entries):  # there before this run
        return False
    shutil.rmtree(folder, ignore_errors=True)
    for parent in list(folder.parents)[:PARENT_LEVELS]:  # outputs/<task>/runs, made for it
        if parent == Path.cwd() or any(parent.iterdir()):
            break
        parent.rmdir()
    return True


def hydra_run_dir() -> Path | None:
    """The running Hydra job's output folder (``None`` outside an app)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return Path(HydraConfig.get().runtime.output_dir)
