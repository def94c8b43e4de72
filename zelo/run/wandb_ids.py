"""W&B run ids kept in folders (one run per job across restarts, one summary run per sweep), and
finishing a run with the status it deserves."""

from __future__ import annotations

import secrets
import shutil
import string
from pathlib import Path

from zelo.keys import RUN_ID_FILE
from zelo.utils.io import atomic_write_text

ID_ALPHABET = string.ascii_lowercase + string.digits  # what W&B's own run ids use


def folder_run_id(folder: Path) -> str:
    """The W&B run id of ``folder`` (a job, or a sweep's summary): read from ``wandb_run_id``,
    else made and saved there, so a resumed job or a re-analysis continues the same run."""
    path = folder / RUN_ID_FILE
    if path.exists():
        run_id = path.read_text().strip()
        if run_id:
            return run_id
    run_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(8))
    atomic_write_text(path, run_id + "\n")
    return run_id


def drop_offline_copies(wandb_dir: Path, run_id: str) -> int:
    """Delete earlier offline copies of run ``run_id`` under ``wandb_dir`` (a run that is written
    again whole, such as a sweep's summary); returns how many were removed."""
    old = [p for p in wandb_dir.glob(f"offline-run-*-{run_id}") if p.is_dir()]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return len(old)


def finish_wandb(exit_code: int = 0, preempted: bool = False) -> None:
    """Finish the open W&B run: a success, a failure (``exit_code`` != 0) or a preemption."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is None:
        return
    if preempted:
        wandb.run.mark_preempting()
    wandb.finish(exit_code=exit_code)
