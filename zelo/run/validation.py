"""Config ranges, checked before any data is loaded; errors quote the value the user typed."""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from zelo.errors import ConfigError
from zelo.utils.ranges import Rule, at_least, between, is_int, is_num, optional, positive

MARGIN = "miner.rules.margin_pos.margin"


SEED_MAX = 2**32 - 1  # numpy's and Lightning's seed range
RULES: dict[str, Rule] = {
    "seed": Rule(lambda x: is_int(x) and 0 <= x <= SEED_MAX, f"an integer in [0, {SEED_MAX}]"),
    "dataset.split_seed": optional(
        Rule(lambda x: is_int(x) and 0 <= x <= SEED_MAX, f"an integer in [0, {SEED_MAX}]")
    ),
    "data.batch_size": at_least(1),
    "data.eval_batch_size": at_least(1),
    "data.num_negatives": at_least(0),
    "data.mine_every_n_epochs": at_least(0),
    "data.num_workers": at_least(0),
    "data.max_train_queries": optional(at_least(1)),
    "data.max_eval_queries": optional(at_least(1)),
    "annotation.keep_positives": optional(at_least(1)),
    "annotation.strategy": Rule(lambda x: x in ("best", "random"), "best or random"),
    "model.lr": positive(),
    "model.sparse_lr": optional(positive()),
    "model.weight_decay": Rule(lambda x: is_num(x) and x >= 0, "a finite number >= 0"),
    "model.warmup_ratio": between(0.0, 1.0),
    "loss.temperature": positive(),
    "loss.teacher_temperature": optional(positive()),
    "loss.alpha": between(0.0, 1.0),
    "loss.tau_plus": between(0.0, 1.0, high_open=True),
    "loss.margin": Rule(lambda x: is_num(x) and x >= 0, "a finite number >= 0"),
    "loss.min_temperature": positive(),
    "miner.depth": at_least(1),
    "miner.sampling.range_max": optional(at_least(1)),
    "miner.scorer.intelligence": between(0.0, 1.0),
    "checkpoint.every_n_minutes": optional(positive()),
    "trainer.gradient_clip_val": optional(Rule(lambda x: is_num(x) and x >= 0, "a number >= 0")),
    # a run that trains no step would report the zero-shot student as a trained point
    "trainer.max_epochs": optional(
        Rule(lambda x: is_int(x) and (x >= 1 or x == -1), "an integer >= 1 (-1: no limit)")
    ),
    "trainer.max_steps": Rule(lambda x: is_int(x) and (x >= 1 or x == -1), "an integer >= 1 or -1"),
    "trainer.limit_train_batches": optional(
        Rule(lambda x: is_num(x) and x > 0, "a number > 0 (a fraction, or a count of batches)")
    ),
}
"""Config key -> its valid range. A key absent from the composed config is not checked. A
miner's rules are checked against their own signatures and ``RANGES`` (:func:`_rules`)."""


def problems(cfg: DictConfig) -> list[str]:
    """Every missing or out-of-range value of ``cfg``, one message each (empty when all is
    well)."""
    found = [f"{key} is required (it has no default): give {key}=..." for key in missing(cfg)]
    for key, rule in RULES.items():
        if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
            continue
        value = OmegaConf.select(cfg, key)
        if value is None and rule.optional:
            continue
        if not rule.check(value):
            found.append(f"{key}={_typed(value)} is invalid: expected {rule.expect}")
    found += _rules(cfg)
    found += _cosine_margin(cfg)
    found += _levels(cfg)
    return found


def missing(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Dotted keys of ``cfg`` whose value is the mandatory ``???`` (Hydra's own keys aside)."""
    out = []
    for key in cfg.keys():
        name = f"{prefix}{key}"
        if name == "hydra":
            continue
        if OmegaConf.is_missing(cfg, key):
            out.append(name)
            continue
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_none() and not node._is_interpolation():
            out += missing(node, f"{name}.")
    return out


def validate_config(cfg: DictConfig) -> None:
    """Raise one :class:`ConfigError` listing every out-of-range value, before data is loaded.

    Raises:
        ConfigError: the message names each key and quotes the value as typed.
    """
    found = problems(cfg)
    if found:
        raise ConfigError("; ".join(found))


def _rules(cfg: DictConfig) -> list[str]:
    """Each ``miner.rules.<name>``: arguments its function takes, values in the function
    module's ``RANGES``; derived from the rule's code, so a new rule needs no entry here."""
    rules = OmegaConf.select(cfg, "miner.rules")
    found: list[str] = []
    for name, node in (rules or {}).items():
        if node is None or "_target_" not in node:
            continue
        key = f"miner.rules.{name}"
        try:
            fn = get_object(node._target_)
        except Exception as err:  # any import failure: the target the user gave
            found.append(f"{key}._target_={node._target_} cannot be imported: {err}")
            continue
        takes = list(inspect.signature(fn).parameters)[1:]  # the candidates come at call time
        found += [
            f"{key}.{arg} is not an argument of {node._target_} (it takes {', '.join(takes)})"
            for arg in node
            if not str(arg).startswith("_") and arg not in takes
        ]
        for arg, rule in getattr(inspect.getmodule(fn), "RANGES", {}).items():
            value = node.get(arg)
            if not (value is None and rule.optional) and not rule.check(value):
                found.append(f"{key}.{arg}={_typed(value)} is invalid: expected {rule.expect}")
    return found


def _cosine_margin(cfg: DictConfig) -> list[str]:
    """A cosine scorer's margin must be below 1: with scores in [-1, 1], a margin of 1 or more
    asks for negatives at least that far below the positive, which almost never exist."""
    margin = OmegaConf.select(cfg, MARGIN)
    target = OmegaConf.select(cfg, "miner.scorer._target_")
    if not is_num(margin) or margin < 1 or not target:
        return []
    try:
        cosine = getattr(get_object(target), "cosine_scores", False)
    except Exception:  # an unimportable scorer fails when it is built
        return []
    if not cosine:
        return []
    return [
        f"{MARGIN}={_typed(margin)} is invalid: the scorer's scores are cosine similarities "
        "in [-1, 1], so no candidate lies that far below the positive; expected a number in [0, 1)"
    ]


def _levels(cfg: DictConfig) -> list[str]:
    """An adaptive miner that climbs the oracle's intelligence needs levels in [0, 1]."""
    levels = OmegaConf.select(cfg, "miner.levels")
    knob = str(OmegaConf.select(cfg, "miner.knob") or "")
    if not isinstance(levels, ListConfig) or not knob.endswith("intelligence"):
        return []
    bad = [
        x
        for x in [*levels, OmegaConf.select(cfg, "miner.start")]
        if not (is_num(x) and 0 <= x <= 1)
    ]
    if not bad:
        return []
    return [f"miner.levels/start has {_typed(bad[0])}: expected intelligences in [0, 1]"]


def _typed(value: Any) -> str:
    """The value as the user would type it on the command line (``inf``, ``1.5``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return str(value)
