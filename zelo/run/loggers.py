"""Lightning's W&B and CSV loggers, made to continue a job's records when it resumes."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from zelo.errors import require
from zelo.run.wandb_ids import folder_run_id
from zelo.utils.io import atomic_write_text

log = logging.getLogger(__name__)


class JobWandbLogger(WandbLogger):
    """:class:`WandbLogger` whose run id lives in the job folder (``save_dir``).

    W&B's own console banner is silenced (one log line says where the run is instead), and the
    deprecated ``anonymous`` setting is not passed, so W&B prints no warning about it.

    Args:
        save_dir: the job folder; runs are written under ``<save_dir>/wandb/``.
        id: a run id to use instead of the job folder's.
        **kwargs: everything :class:`WandbLogger` takes.
    """

    def __init__(self, save_dir: str | None = None, id: str | None = None, **kwargs: Any) -> None:
        wandb = require("wandb", "logger=wandb (part of logger=default; logger=csv needs none)")

        if id is None and save_dir is not None:
            id = folder_run_id(Path(save_dir))
        kwargs.setdefault("settings", wandb.Settings(silent=True))
        super().__init__(save_dir=save_dir, id=id, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
        mode = "offline" if kwargs.get("offline") else "online"
        log.info("W&B run %s (%s) under %s/wandb", id, mode, save_dir)


class _AppendingWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv`` (Lightning's writer deletes it)."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as fh:
                self.metrics_keys = next(csv.reader(fh), [])


class JobCSVLogger(CSVLogger):
    """:class:`CSVLogger` that keeps a resumed job's earlier rows: ``drop_from(step)`` removes only
    the rows a stopped process wrote after its last checkpoint, which the resumed one writes again.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment

    def drop_from(self, step: int) -> int:
        """Remove the rows logged at ``step`` or later; returns how many were removed."""
        path = Path(self.log_dir) / ExperimentWriter.NAME_METRICS_FILE
        if not path.is_file():
            return 0
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            fields, rows = reader.fieldnames or [], list(reader)
        kept = [r for r in rows if not r.get("step") or float(r["step"]) < step]
        if len(kept) < len(rows):
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
            atomic_write_text(path, out.getvalue())
        return len(rows) - len(kept)
