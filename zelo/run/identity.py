"""What a run *is*: its resolved config without the keys that only say where or how it writes.

Two configs with equal identities give the same results. A finished run folder is reused only by
a config of the same identity, and a checkpoint resumes only a run of the identity it records.
A zelo ``_target_`` counts by its name, not its module (:func:`target_name`). Left out: every
``paths.*`` value (a path inside another value is replaced by ``${paths.<key>}``,
so moving the data or the repository changes nothing), ``hydra``, the loggers, and the keys that
say whether to skip, resume, checkpoint or keep files (:data:`IGNORED`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zelo.errors import ConfigError
from zelo.keys import CONFIG_FILE, METRICS_FILE

IGNORED = (
    "paths",
    "hydra",
    "logger",
    "task_name",
    "tags",
    "optimized_metric",
    "skip_if_done",
    "resume",
    "keep_checkpoints",
    "checkpoint",
    "save_student",
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
)
MAX_LISTED = 6  # differing keys named in a refusal


def identity(config: dict[str, Any]) -> dict[str, str]:
    """Flat ``dotted.key -> JSON value`` of a resolved config (a dict), :data:`IGNORED` left out
    and paths made symbolic."""
    paths = config.get("paths") or {}
    swaps = sorted(
        ((v, f"${{paths.{k}}}") for k, v in paths.items() if isinstance(v, str) and "/" in v),
        key=lambda kv: -len(kv[0]),
    )
    flat: dict[str, str] = {}
    _flatten(config, "", flat, swaps)
    return flat


def config_identity(cfg: DictConfig) -> dict[str, str]:
    """:func:`identity` of a composed config (resolved here)."""
    return identity(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]


def stored_identity(run_dir: Path) -> dict[str, str] | None:
    """The identity of the config a run folder was made with (its ``config.yaml``), or ``None``
    when the folder has none."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    return identity(OmegaConf.to_container(OmegaConf.load(path), resolve=False))  # type: ignore


def differences(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """``key: old -> new`` for each key whose value differs (``absent`` where one lacks it),
    top-level keys first."""
    out = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k.count("."), k)):
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key, 'absent')} -> {new.get(key, 'absent')}")
    return out


def check_finished_folder(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to reuse a finished run folder for a config of another identity.

    Raises:
        ConfigError: ``run_dir`` holds ``metrics.json`` of another config (the message names the
            differing keys), or one whose config cannot be told (no ``config.yaml``).
    """
    old = stored_identity(run_dir)
    if old is None:
        raise ConfigError(
            f"{run_dir} holds {METRICS_FILE} but no {CONFIG_FILE}: which config made it cannot "
            "be told; choose another run folder (hydra.run.dir / hydra.sweep.dir)"
        )
    diff = differences(old, config_identity(cfg))
    if diff:
        more = f" (and {len(diff) - MAX_LISTED} more)" if len(diff) > MAX_LISTED else ""
        raise ConfigError(
            f"{run_dir} holds the finished run of another config ({'; '.join(diff[:MAX_LISTED])}"
            f"{more}): its results are not this config's, so it is neither returned nor "
            "replaced. Choose another run folder (hydra.run.dir / hydra.sweep.dir), or move "
            "that one away to rerun there"
        )


def _flatten(node: Any, prefix: str, out: dict[str, str], swaps: list) -> None:
    if prefix.rstrip(".") in IGNORED:
        return
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _flatten(value, f"{prefix}{key}.", out, swaps)
        return
    key = prefix.rstrip(".")
    if key.rsplit(".", 1)[-1] == "_target_":
        node = target_name(node)
    out[key] = json.dumps(_symbolic(node, swaps), sort_keys=True)


def target_name(target: Any) -> Any:
    """A zelo ``_target_`` without its module (``zelo.mining.scorers.dense.DenseScorer`` ->
    ``zelo:DenseScorer``): where zelo keeps a class is not part of what a run is, so a module moved
    between versions does not turn finished runs into another config's. zelo's target names are
    unique (a test keeps them so); other packages' targets stay whole."""
    if isinstance(target, str) and target.startswith("zelo."):
        return f"zelo:{target.rsplit('.', 1)[-1]}"
    return target


def _symbolic(value: Any, swaps: list) -> Any:
    if isinstance(value, str):
        for real, name in swaps:
            value = value.replace(real, name)
        return value
    if isinstance(value, list):
        return [_symbolic(v, swaps) for v in value]
    if isinstance(value, dict):
        return {k: _symbolic(v, swaps) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def choice(cfg: DictConfig, group: str) -> str:
    """The option chosen for a config group (``miner=percpos`` -> ``percpos``)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        value = HydraConfig.get().runtime.choices.get(group)
        if value:
            return str(value)
    node = cfg.get(group)
    target = node.get("_target_", "") if node is not None else ""
    return str(target).rsplit(".", 1)[-1] or "unknown"
