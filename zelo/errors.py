"""Errors that stand for bad input (a file, a line, a config key): reported in one line."""

from __future__ import annotations

import errno
import importlib
from types import ModuleType


class ZeloError(Exception):
    """Bad input the user can fix; the message names the file, line or config key.

    ``exit_code`` is the process's exit status when this error ends a run.
    """

    exit_code = 2


class ConfigError(ZeloError, ValueError):
    """A config value that cannot work (the message names the key)."""


class MissingDependency(ZeloError, ImportError):
    """An option needs a package that is not installed (the message names what to install)."""


def require(module: str, needed_for: str, install: str | None = None) -> ModuleType:
    """``import module``, or one clear error saying which option needs it and what to install.

    Args:
        module: the import name (``"wandb"``).
        needed_for: the option that needs it (``"logger=wandb"``).
        install: the distribution to install, when it differs from ``module``.

    Raises:
        MissingDependency: the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependency(
            f"{needed_for} needs the package {install or module}, which cannot be imported here "
            f"({err}): pip install {install or module}"
        ) from err


class TrainingDiverged(ZeloError):
    """The loss, a gradient norm or a weight became NaN or infinite: the run is worthless."""

    exit_code = 3


class DiskFull(ZeloError):
    """No space left on the device (or the quota is used up) while writing a file."""

    exit_code = 1

    @classmethod
    def from_os_error(cls, err: OSError) -> DiskFull:
        where = f" writing {err.filename}" if err.filename else ""
        return cls(
            f"no space left on the device{where} ({err.strerror}); free some space and run the "
            "same command again (a training job resumes from its last checkpoint)"
        )


def zelo_cause(err: BaseException | None) -> ZeloError | None:
    """The :class:`ZeloError` behind ``err``, also when a library wrapped it; a full disk
    anywhere in the chain counts as a :class:`DiskFull`.

    Hydra's ``instantiate`` re-raises a constructor's error as ``InstantiationException`` with the
    original as ``__cause__``; this walks the cause/context chain to find ours.
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ZeloError):
            return err
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull.from_os_error(err)
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
