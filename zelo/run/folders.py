"""Where a run may write, checked before Hydra creates anything: a run or sweep folder is new,
empty, or one of zelo's own; a finished run folder is reused only by its own config.

zelo writes fixed names into a run folder (``train.log``, ``config.yaml``, ``metrics.json``,
``checkpoints/``, ``student/``...) and replaces files of those names, so a folder that holds other
things (``hydra.run.dir=/``, a home or project folder) is refused with exit status 2.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from zelo.errors import ConfigError
from zelo.keys import METRICS_FILE
from zelo.run.identity import check_finished_folder

log = logging.getLogger(__name__)

HYDRA_RECORD = ".hydra"  # Hydra's record of a run, in every run folder it made
SWEEP_RECORD = "multirun.yaml"  # Hydra's record of a sweep, in the sweep folder


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a run folder Hydra made (it holds ``.hydra/``)."""
    return (path / HYDRA_RECORD).is_dir()


def is_sweep_folder(path: Path) -> bool:
    """Whether ``path`` is a sweep folder Hydra made (``multirun.yaml``, or job folders)."""
    if (path / SWEEP_RECORD).is_file():
        return True
    return any(p.is_dir() and is_run_folder(p) for p in path.iterdir())


def folder_problem(path: Path, ours: Any) -> str | None:
    """Why zelo may not write into ``path`` (``None``: it may): not a folder, or a folder that
    holds things and is not ``ours(path)``."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return "is not a folder"
    if not path.exists():
        return None
    try:
        if not any(path.iterdir()) or ours(path):
            return None
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    return "exists, is not empty and is not a folder zelo made"


def check_output_folder(path: Path, key: str, sweep: bool = False) -> None:
    """Refuse an output folder zelo may not write into.

    Raises:
        ConfigError: naming ``key`` and the folder.
    """
    problem = folder_problem(path, is_sweep_folder if sweep else is_run_folder)
    if problem is not None:
        raise ConfigError(
            f"{key}={path} {problem}: zelo writes train.log, config.yaml, metrics.json, "
            "checkpoints/ and student/ there and replaces files of those names. Choose a new "
            "or empty folder"
        )


def task_config(config: DictConfig, run_dir: Path) -> DictConfig:
    """The job's config as the job will see it in ``run_dir`` (Hydra's part set, then removed)."""
    cfg = copy.deepcopy(config)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = os.path.abspath(run_dir)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} resolve against it (Hydra sets its own)
    return OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])


class RunFolderGuard(Callback):
    """Hydra callback: refuses an unsafe run or sweep folder (exit status 2, one line) before
    Hydra creates it, and a finished run folder of another config before Hydra records the new
    launch in it."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        try:
            check_output_folder(run_dir, "hydra.run.dir")
            if (run_dir / METRICS_FILE).exists():
                check_finished_folder(run_dir, task_config(config, run_dir))
        except ConfigError as err:
            _refuse(err)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_output_folder(Path(str(config.hydra.sweep.dir)), "hydra.sweep.dir", sweep=True)
        except ConfigError as err:
            _refuse(err)


def _refuse(err: ConfigError) -> None:
    log.error("%s", err)
    sys.exit(err.exit_code)
