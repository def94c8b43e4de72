"""Read a sweep folder into tables: one row per finished job, plus per-step CSV-log traces.

A job folder is any folder under the sweep holding ``.hydra/overrides.yaml``, ``metrics.json``
or ``failed.json``.
Jobs without ``metrics.json`` (failed: their ``failed.json`` says why; or still running, or
killed) and jobs whose ``metrics.json`` cannot be read are listed in the log and in
:class:`SweepStatus`, never turned into rows, so they are never plotted.

A job folder holding both is failed too. A sweep that re-launches a folder finished with another
config is refused there (``failed.json``), but Hydra has by then rewritten the folder's
``.hydra/overrides.yaml`` with the refused config, so the old ``metrics.json`` would be read
under the refused job's overrides: a point labelled with one config and measured with another.
Launching the folder's own config again clears the ``failed.json`` and rewrites the overrides.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from zelo.keys import (
    DEV_NDCG,
    FAILED_FILE,
    FN_PREFIX,
    FN_RATE,
    METRICS_FILE,
    MINER_NDCG,
    MINER_PREFIX,
    MINING_NUM_SHORT,
    MINING_PREFIX,
    MINING_TN_HARDNESS,
    MINING_TN_SCORE_MEAN,
    RESULTS_FILE,
    RUN_ADAPTIVE,
    RUN_COLLECTION_SEED,
    RUN_CONTROL,
    RUN_DATASET,
    RUN_KEEP_POSITIVES,
    RUN_LOSS,
    RUN_MINER,
    RUN_MODEL,
    RUN_SEED,
    RUN_SPLIT_SEED,
    RUN_TEACHER,
    TEST_MRR_AT_10,
    TEST_NDCG,
    TEST_NDCG_AT_10_BEFORE,
    TEST_NDCG_AT_10_BINARY,
    TEST_NDCG_AT_10_TOP,
    TEST_RECALL_AT_100,
    TIME_TOTAL_S,
)

log = logging.getLogger(__name__)

# labelled positives kept per training query; null in metrics.json (inf here) keeps them all
KEEP_POSITIVES = RUN_KEEP_POSITIVES


# results column <- metrics.json key
METRIC_COLUMNS = {
    "miner": RUN_MINER,
    "loss": RUN_LOSS,
    "dataset": RUN_DATASET,
    "model": RUN_MODEL,
    "seed": RUN_SEED,
    "intelligence": MINER_NDCG,
    "fn_rate": FN_RATE,
    "tn_hardness": MINING_TN_HARDNESS,
    "tn_score_mean": MINING_TN_SCORE_MEAN,
    "num_short": MINING_NUM_SHORT,
    "collection_seed": RUN_COLLECTION_SEED,
    "split_seed": RUN_SPLIT_SEED,
    "adaptive": RUN_ADAPTIVE,
    "control": RUN_CONTROL,
    "keep_positives": KEEP_POSITIVES,
    "test_ndcg10": TEST_NDCG,
    "test_ndcg10_before": TEST_NDCG_AT_10_BEFORE,
    "test_recall100": TEST_RECALL_AT_100,
    "test_mrr10": TEST_MRR_AT_10,
    "test_ndcg10_binary": TEST_NDCG_AT_10_BINARY,
    "test_ndcg10_top": TEST_NDCG_AT_10_TOP,
    "val_ndcg10": DEV_NDCG,
    "wall_s": TIME_TOTAL_S,
}
FIXED_COLUMNS = ["job", "label", *METRIC_COLUMNS]
# overrides that never describe the point: machine paths, Hydra's own settings, the seed
SKIP_OVERRIDE_PREFIXES = ("paths.", "hydra.")
SKIP_OVERRIDE_KEYS = {"seed"}
# overrides kept out of labels (they have their own columns; summaries group by loss and
# annotation completeness)
KEEP_OVERRIDE = "annotation.keep_positives"
NOT_IN_LABEL = {"miner", "loss", "teacher", KEEP_OVERRIDE}
# teachers that leave the loss's name alone (none taken, or the miner's own scorer)
DEFAULT_TEACHERS = ("none", "miner")
# settings left out of labels at these values: their default, the control switched off
OFF = {"miner.drop_judged": "false"}
# short names used in labels: oracle(x=0.5)
LABEL_ABBREVIATIONS = {"intelligence": "x"}
SORT_COLUMNS = ["loss", "keep_positives", "label", "seed", "job"]


@dataclass
class SweepStatus:
    """Job folders of a sweep that did not give a row."""

    pending: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # job -> its error


def job_dirs(sweep_dir: str | Path) -> list[Path]:
    """Every job folder under ``sweep_dir`` (the folder itself for a single run), sorted."""
    root = Path(sweep_dir)
    found = {p.parent.parent for p in root.rglob("overrides.yaml") if p.parent.name == ".hydra"}
    found |= {p.parent for p in root.rglob(METRICS_FILE)}
    found |= {p.parent for p in root.rglob(FAILED_FILE)}
    return sorted(found, key=lambda p: _job_key(p.relative_to(root).as_posix()))


def override_key(override: str) -> str:
    """``seed`` of ``seed=1``; ``x.y`` of ``+x.y=1``, ``++x.y=1`` or ``~x.y``."""
    return override.partition("=")[0].lstrip("+~")


def job_overrides(job_dir: Path) -> dict[str, str]:
    """Every command-line override of the job (``.hydra/overrides.yaml``) as ``{key: value}``,
    ``+``/``~`` prefixes dropped."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for item in yaml.safe_load(path.read_text()) or []:
        if key := override_key(str(item)):
            out[key] = str(item).partition("=")[2]
    return out


def read_overrides(job_dir: Path) -> dict[str, str]:
    """The job's overrides (:func:`job_overrides`) that describe the point: machine paths,
    ``hydra.*`` keys and the seed are left out."""
    return {
        key: value
        for key, value in job_overrides(job_dir).items()
        if key not in SKIP_OVERRIDE_KEYS and not key.startswith(SKIP_OVERRIDE_PREFIXES)
    }


def read_metrics(job_dir: Path) -> dict[str, Any] | None:
    """The job's ``metrics.json`` as a dict, or ``None`` when it is missing or unreadable."""
    path = job_dir / METRICS_FILE
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        if path.exists():
            log.warning("skipping %s: cannot read it (%s)", path, err)
        return None
    if not isinstance(metrics, dict):
        log.warning("skipping %s: not a JSON object", path)
        return None
    return metrics


def read_failure(job_dir: Path) -> str:
    """The error a failed job recorded in ``failed.json``."""
    try:
        return str(json.loads((job_dir / FAILED_FILE).read_text()).get("error"))
    except (OSError, ValueError, AttributeError):
        return f"unreadable {FAILED_FILE}"


def collect_results(sweep_dir: str | Path, status: SweepStatus | None = None) -> pd.DataFrame:
    """One row per job of ``sweep_dir`` that has a readable ``metrics.json``.

    Columns: ``job`` (folder relative to the sweep), ``label`` (the point: miner plus its
    settings), ``miner``, ``loss`` (with ``[teacher]`` appended when a ``teacher`` option replaced
    the miner's scorer as the loss's teacher), ``dataset``, ``model``, ``seed``, ``intelligence``
    (``miner/ndcg@10``), ``fn_rate`` (``mining/fn_rate``), ``tn_hardness`` (``mining/tn_hardness``:
    mean reference score of the mined true negatives minus the positive's), ``keep_positives``
    (labelled positives per training query, ``inf`` for all), the test/val metrics, ``wall_s``
    (``time/total_s``), then one column per override key (``miner.intelligence``,
    ``miner/scorer``, ...). Rows are sorted by loss, completeness, label, seed and job, and nothing in them
    depends on where or when the analysis runs, so rerunning it on a sweep gives the same table.
    ``wall_s`` is the one column expected to differ between two executions of the same sweep:
    a check that a resumed or repeated sweep reproduces its results compares every other column.

    Args:
        sweep_dir: a Hydra sweep folder (or a single run folder).
        status: filled with the job folders that gave no row (pending/failed, corrupt).

    Returns:
        The results table (empty, with the fixed columns, when no job has finished).
    """
    root = Path(sweep_dir)
    status = status if status is not None else SweepStatus()
    rows = []
    for job in job_dirs(root):
        name = job.relative_to(root).as_posix()
        if (job / FAILED_FILE).exists():  # its last launch failed (the module's docstring)
            status.failed[name] = read_failure(job)
            continue
        metrics = read_metrics(job)
        if metrics is None:
            target = status.corrupt if (job / METRICS_FILE).exists() else status.pending
            target.append(name)
            continue
        rows.append(_row(name, metrics, read_overrides(job)))
    if status.pending:
        log.info(
            "%d job(s) without %s (running or stopped): %s",
            len(status.pending),
            METRICS_FILE,
            ", ".join(status.pending),
        )
    for name, error in status.failed.items():
        log.warning("failed job %s (not plotted): %s", name, error)
    df = pd.DataFrame(rows, columns=None if rows else FIXED_COLUMNS)
    if df.empty:
        return df
    df["label"] = make_labels(df)
    extra = sorted(c for c in df.columns if c not in FIXED_COLUMNS)
    df = df[FIXED_COLUMNS + extra]
    return df.sort_values(SORT_COLUMNS, kind="mergesort", na_position="last").reset_index(drop=True)


def is_adaptive(df: pd.DataFrame) -> pd.Series:
    """True on rows (jobs, or summary points) whose miner moved its hardness between passes
    (``run/adaptive`` in metrics.json): one point each (its last pass), never fitted."""
    if "adaptive" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["adaptive"].map(lambda v: v is True or v == 1.0 or v == "True")


def make_labels(df: pd.DataFrame) -> pd.Series:
    """Name each row's point: the miner, its ``miner.*`` settings, other varying overrides.

    ``miner=oracle miner.intelligence=0.5`` gives ``oracle(x=0.5)``; a plain ``miner=topk`` gives
    ``topk``. Other overrides (``data.num_negatives``) enter, by their full key, only when they
    vary across the sweep. A setting at its default that only switches a control on
    (``miner.drop_judged=false``) is left out, so the raw miner's label is the same whether or
    not its twin's sweep named it: ``dial(x=0.5)`` and its twin ``dial(drop_judged=true,x=0.5)``.
    """
    override_cols = [c for c in df.columns if c not in FIXED_COLUMNS]
    varying = [c for c in override_cols if df[c].astype(str).nunique(dropna=False) > 1]
    keys = [c for c in override_cols if c.startswith(("miner.", MINER_PREFIX))]
    keys += [c for c in varying if c not in keys and c not in NOT_IN_LABEL]

    def name(row: pd.Series) -> str:
        shown = [k for k in keys if _present(row[k]) and str(row[k]).lower() != OFF.get(k)]
        parts = [f"{_short(k)}={row[k]}" for k in shown]
        return f"{row['miner']}({','.join(parts)})" if parts else str(row["miner"])

    return df.apply(name, axis=1) if len(df) else pd.Series(dtype=str)


def collect_traces(
    sweep_dir: str | Path, prefixes: tuple[str, ...] = (FN_PREFIX, MINING_PREFIX)
) -> pd.DataFrame:
    """Per-step traces of the CSV logs (``<job>/csv/metrics.csv``) in long form.

    Args:
        sweep_dir: a Hydra sweep folder.
        prefixes: metric-name prefixes to keep (the false-negative monitor's ``fn/``, ``mining/``).

    Returns:
        Columns ``job``, ``step``, ``epoch``, ``metric``, ``value``; empty when no log has them.
    """
    root = Path(sweep_dir)
    frames = []
    for job in job_dirs(root):
        path = job / "csv" / "metrics.csv"
        try:
            log_df = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        cols = [c for c in log_df.columns if c.startswith(prefixes)]
        if not cols:
            continue
        index = [c for c in ("step", "epoch") if c in log_df.columns]
        long = log_df[index + cols].melt(id_vars=index, var_name="metric").dropna(subset=["value"])
        long.insert(0, "job", job.relative_to(root).as_posix())
        frames.append(long)
    columns = ["job", "step", "epoch", "metric", "value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


def latest_sweep(root: str | Path) -> Path | None:
    """The most recently modified folder under ``root`` holding ``results.csv`` or job results."""
    root = Path(root)
    candidates = {p.parent for p in root.rglob(RESULTS_FILE)}
    for metrics in root.rglob(METRICS_FILE):
        job = metrics.parent
        multirun = (job.parent / "multirun.yaml").exists()
        candidates.add(job.parent if multirun else job)
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.as_posix()))


def resolve_sweep_dir(
    value: str | Path | None, repo: str | Path | None = None, cwd: str | Path | None = None
) -> Path:
    """The sweep folder a user named (``SWEEP_DIR``, ``$ZELO_SWEEP_DIR``), found from where they are.

    A relative path is tried against the caller's working directory (``$PWD``, which a notebook
    kernel started in ``notebooks/`` inherits from the shell that ran ``jupyter``), then the
    process's own working directory, then the repository root, so the README's command finds the
    same folder from the repository root and from ``notebooks/``. ``None``: the latest sweep under
    the repository's ``outputs/``.

    Args:
        value: the folder as given, or None.
        repo: the repository root (default: the one holding this package's ``pyproject.toml``).
        cwd: the caller's working directory (default: ``$PWD``, else the process's).

    Raises:
        FileNotFoundError: no such folder (every place tried is named), or no sweep at all.
    """
    repo = Path(repo) if repo is not None else _repo_root()
    if value is None or str(value) == "":
        found = latest_sweep(repo / "outputs")
        if found is None:
            raise FileNotFoundError(
                f"no sweep with results under {repo / 'outputs'}: set SWEEP_DIR"
            )
        return found
    path = Path(value).expanduser()
    if path.is_absolute():
        places = [path]
    else:
        caller = Path(cwd) if cwd is not None else Path(os.environ.get("PWD") or Path.cwd())
        places = list(dict.fromkeys([caller / path, Path.cwd() / path, repo / path]))
    for place in places:
        if place.is_dir():
            return place.resolve()
    tried = ", ".join(str(p) for p in places)
    raise FileNotFoundError(f"no sweep folder {value!s}: tried {tried}")


def _repo_root() -> Path:
    """The repository root of an editable install (the folder with ``pyproject.toml``), else cwd."""
    import zelo

    root = Path(zelo.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def _row(name: str, metrics: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"job": name, "label": None}
    for column, key in METRIC_COLUMNS.items():
        value = metrics.get(key)
        row[column] = math.nan if value is None else value
    if not _present(row["miner"]):
        row["miner"] = overrides.get("miner", "unknown")
    row["keep_positives"] = completeness(metrics, overrides)
    teacher = metrics.get(RUN_TEACHER)
    if _present(row["loss"]) and _present(teacher) and teacher not in DEFAULT_TEACHERS:
        row["loss"] = f"{row['loss']}[{teacher}]"  # its own curve: infonce_masked[oracle]
    for key, value in overrides.items():
        row.setdefault(key, value)
    return row


def completeness(metrics: dict[str, Any], overrides: dict[str, str]) -> float:
    """Labelled positives kept per training query: ``run/keep_positives``, else the
    ``annotation.keep_positives`` override; ``inf`` when every positive is kept (null), NaN when
    neither says."""
    if KEEP_POSITIVES in metrics:
        value: Any = metrics[KEEP_POSITIVES]
    elif KEEP_OVERRIDE in overrides:
        value = overrides[KEEP_OVERRIDE]
    else:
        return math.nan
    if value is None or str(value).lower() in ("null", "none", "all"):
        return math.inf
    try:
        return float(value)
    except ValueError:
        log.warning("unreadable annotation.keep_positives %r: treated as unknown", value)
        return math.nan


def _job_key(name: str) -> tuple[int, str]:
    match = re.match(r"(\d+)_", name)
    return (int(match.group(1)) if match else -1, name)


def _short(key: str) -> str:
    """``miner.scorer.intelligence`` -> ``x``, ``miner/scorer`` -> ``scorer``, a miner knob by its
    last name (``miner.rules.perc_pos.percentage`` -> ``percentage``); other keys stay whole."""
    if re.match(r"^miner[./]", key):
        key = key[len("miner.") :].rsplit(".", 1)[-1]  # miner.rules.shift.shift -> shift
    return LABEL_ABBREVIATIONS.get(key, key)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
