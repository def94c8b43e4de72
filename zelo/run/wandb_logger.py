"""Lightning's W&B logger, with one W&B run per job folder across restarts, and quiet."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger

from zelo.run.wandb_ids import folder_run_id

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
        import wandb

        if id is None and save_dir is not None:
            id = folder_run_id(Path(save_dir))
        kwargs.setdefault("settings", wandb.Settings(silent=True))
        super().__init__(save_dir=save_dir, id=id, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
        mode = "offline" if kwargs.get("offline") else "online"
        log.info("W&B run %s (%s) under %s/wandb", id, mode, save_dir)
