"""Hydra callback for sweeps: a "job k/N, ETA" line per job, and at the end the failed jobs and
a non-zero exit status when there are any (``train.py`` exits with :func:`exit_status`)."""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from zelo.keys import FAILED_FILE, METRICS_FILE

log = logging.getLogger(__name__)

_exit_status = 0
_end_status = 0  # a step after the jobs (the sweep's analysis) that failed
END_STEP_FAILED = 1


def exit_status() -> int:
    """0, or the highest exit status among the jobs the last sweep left failed and the steps
    after them (its analysis) that failed."""
    return max(_exit_status, _end_status)


def end_step_failed(code: int = END_STEP_FAILED) -> None:
    """Record that a step run once the jobs returned (the analysis) failed: the sweep then
    exits non-zero although its jobs succeeded."""
    global _end_status
    _end_status = max(_end_status, code)


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs the sweep launches: the basic sweeper's grid size, a sweeper's ``n_trials``,
    else ``None`` (unknown). Command-line overrides replace ``hydra.sweeper.params`` entries."""
    sweeper = config.hydra.get("sweeper") or {}
    if sweeper.get("n_trials"):
        return int(sweeper.n_trials)
    if "BasicSweeper" not in str(sweeper.get("_target_", "")):
        return None
    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    params += list(config.hydra.overrides.task)
    sizes: dict[str, int] = {}
    for override in OverridesParser.create().parse_overrides(params):
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [0]
        sizes[override.get_key_element()] = len(values)
    total = 1
    for n in sizes.values():
        total *= n
    return total


def eta(durations: list[float], remaining: int) -> str:
    """``ETA 12m30s`` from the median duration of the jobs trained so far, else ``''``."""
    if not durations or remaining <= 0:
        return ""
    return f", ETA {clock(statistics.median(durations) * remaining)}"


def clock(seconds: float) -> str:
    """``1h02m``, ``12m30s`` or ``45s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def failed_jobs(sweep_dir: str | Path) -> dict[str, dict]:
    """Job folder (relative) -> its ``failed.json`` record, for every failed job of a sweep."""
    root = Path(sweep_dir)
    out = {}
    for path in sorted(root.rglob(FAILED_FILE)):
        try:
            out[path.parent.relative_to(root).as_posix()] = json.loads(path.read_text())
        except (OSError, ValueError):
            out[path.parent.relative_to(root).as_posix()] = {"error": "unreadable record"}
    return out


class SweepMonitor(Callback):
    """Logs ``job k/N`` (with an ETA from the jobs trained so far) as each job starts, and the
    failed jobs once the sweep returns."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.durations: list[float] = []
        self._start: float | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global _exit_status, _end_status
        _exit_status = _end_status = 0
        self.total = count_jobs(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.mode) != "RunMode.MULTIRUN":
            return
        k = int(config.hydra.job.num) + 1
        done = (Path(config.hydra.runtime.output_dir) / METRICS_FILE).exists()
        remaining = self.total - k + 1 if self.total else 0
        log.info(
            "job %d/%s%s: %s%s",
            k,
            self.total or "?",
            "" if done else eta(self.durations, remaining),
            " ".join(config.hydra.overrides.task) or "(no overrides)",
            " (done before)" if done else "",
        )
        self._start = None if done else time.monotonic()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        trained = str(job_return.status) == "JobStatus.COMPLETED" and (
            job_return.return_value is not None  # None: skipped (another process holds it)
        )
        if self._start is not None and trained:
            self.durations.append(time.monotonic() - self._start)
        self._start = None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global _exit_status
        failed = failed_jobs(config.hydra.sweep.dir)
        if not failed:
            return
        _exit_status = max(int(r.get("exit_code") or 1) for r in failed.values())
        log.error(
            "%d job(s) failed (no metrics.json; see each folder's %s): %s",
            len(failed),
            FAILED_FILE,
            "; ".join(f"{job}: {r.get('error')}" for job, r in failed.items()),
        )
