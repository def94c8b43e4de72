"""A job that fails leaves ``failed.json`` (what went wrong) instead of ``metrics.json``; the
analysis lists it as failed and a sweep ends with a non-zero exit status."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from zelo.errors import ZeloError, zelo_cause
from zelo.keys import FAILED_FILE
from zelo.run.signals import RunInterrupted
from zelo.utils.io import atomic_write_json

log = logging.getLogger(__name__)

BUG_EXIT_CODE = 1  # an unexpected error (not bad input): the traceback is in the job's log
LAST_DITCH_CHARS = 300  # the error kept in a failure record written on a full disk


def exit_code(err: BaseException) -> int:
    """The exit status a run ending with ``err`` gets (2 bad input, 3 diverged, 1 other)."""
    cause = zelo_cause(err)
    return cause.exit_code if cause is not None else BUG_EXIT_CODE


def describe(err: BaseException) -> str:
    """One line: the :class:`ZeloError`'s message, else ``Type: message``."""
    cause = zelo_cause(err)
    return str(cause) if cause is not None else f"{type(err).__name__}: {err}"


def record_failure(job_dir: str | Path, err: BaseException) -> bool:
    """Write ``<job>/failed.json``: the error, its kind and the exit status.

    Written atomically; when that fails (a full disk), a record of a few hundred bytes is written
    in place as a last resort; when that fails too, one line on stderr says why there is none.

    Returns:
        Whether a record was written.
    """
    cause: BaseException = zelo_cause(err) or err
    record = {
        "error": describe(err),
        "kind": type(cause).__name__,
        "exit_code": exit_code(err),
        "bad_input": isinstance(cause, ZeloError) and cause.exit_code == 2,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = Path(job_dir) / FAILED_FILE
    try:
        atomic_write_json(path, record)
        return True
    except OSError:
        pass
    tiny = {**record, "error": record["error"][:LAST_DITCH_CHARS]}
    data = (json.dumps(tiny) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return True
    except OSError as last:
        print(
            f"zelo: no {FAILED_FILE} in {job_dir} ({last.strerror}); the job failed: "
            f"{record['error']}",
            file=sys.stderr,
        )
        return False


def clear_failure(job_dir: str | Path) -> None:
    """Forget an earlier failure of this job (it is being run again)."""
    (Path(job_dir) / FAILED_FILE).unlink(missing_ok=True)


def report(err: BaseException) -> None:
    """End a job that raised ``err``, the way a user can act on.

    A stop by signal: one line, exit 128 + signal (also in a sweep: the sweep stops). Bad input or
    a diverged run: one line naming the problem; a single run exits with the error's status, a
    sweep job is left failed (``failed.json``) and the sweep goes on to the next job. Anything
    else is a bug: a single run re-raises it, a sweep job logs its traceback and the sweep goes on.
    """
    if isinstance(err, RunInterrupted):
        log.error("%s", err.message)
        sys.exit(err.exit_code)
    cause = zelo_cause(err)
    if in_sweep():
        if cause is not None:
            log.error("job failed: %s", cause)
        else:
            log.error("job failed with an unexpected error", exc_info=err)
        return
    if cause is None:
        raise err
    log.error("%s", cause)
    sys.exit(cause.exit_code)


def in_sweep() -> bool:
    """Whether this job is one of a Hydra multirun's."""
    return HydraConfig.initialized() and str(HydraConfig.get().mode) == "RunMode.MULTIRUN"
