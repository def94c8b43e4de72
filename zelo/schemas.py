"""Typed schemas of the configs, OmegaConf resolvers, and ``register_configs()``.

Schemas hold types and ``MISSING``; values stay in YAML. Each swept option's schema lives in
ConfigStore under ``schema/<group>/<option>`` and is pulled into its YAML with
``defaults: [/schema/<group>/<option>@_here_, _self_]``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import pkgutil
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.utils import get_object
from omegaconf import MISSING, OmegaConf

import zelo
from zelo.resolvers import config_groups, run_tags

CONF_DIR = str(zelo.PACKAGE_ROOT.parent / "conf")
"""The config folder of the apps (``zelo-train``, ``zelo-mine``): ``conf/`` of the repository."""


def repo_root() -> str:
    """The repository root for an editable install (folder holding ``pyproject.toml``), else cwd."""
    root = zelo.PACKAGE_ROOT.parent
    return str(root if (root / "pyproject.toml").exists() else Path.cwd())


def working_dir() -> str:
    """The caller's working directory (Hydra does not change it): where outputs go."""
    return os.getcwd()


def interactive() -> bool:
    """Whether standard output is a terminal: progress bars only there (in a log file a bar is
    one line per redraw)."""
    return sys.stdout.isatty()


def sweep_group() -> str | None:
    """One W&B group per sweep: the sweep folder's name in multirun, else ``None``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if str(hc.mode) != "RunMode.MULTIRUN":
        return None
    return Path(hc.sweep.dir).name


def wandb_offline() -> bool:
    """W&B runs offline unless the user opts in with ``WANDB_MODE=online``."""
    return os.environ.get("WANDB_MODE", "offline").lower() not in ("online", "run")


def minilm_path() -> str:
    from zelo.models.encoders import minilm_path as _path

    return _path()


RESOLVERS = {
    "zelo_root": repo_root,
    "zelo_cwd": working_dir,
    "zelo_interactive": interactive,
    "zelo_sweep_group": sweep_group,
    "zelo_wandb_offline": wandb_offline,
    "zelo_minilm": minilm_path,
    "zelo_config_groups": config_groups,
    "zelo_run_tags": run_tags,
}


@dataclass
class AnnotationConfig:
    keep_positives: int | None = MISSING
    strategy: str = MISSING


@dataclass
class DataConfig:
    batch_size: int = MISSING
    num_negatives: int = MISSING
    examples_per_query: int | None = None
    mine_every_n_epochs: int = MISSING
    num_workers: int = MISSING
    eval_batch_size: int = MISSING
    max_train_queries: int | None = None
    max_eval_queries: int | None = None


@dataclass
class PathsConfig:
    root_dir: str = MISSING
    data_dir: str = MISSING
    log_dir: str = MISSING
    output_dir: str = MISSING
    cache_dir: str = MISSING


@dataclass
class DatasetConfig:
    name: str = MISSING
    path: str | None = None
    corpus: str | None = None  # dataset=pairs: the optional separate corpus
    source: Any = MISSING
    splits: dict[str, str | None] = field(default_factory=dict)
    split_seed: int = MISSING
    draw_missing_splits: bool = False  # a named split absent from qrels/ is drawn, not an error


@dataclass
class CheckpointConfig:
    every_n_minutes: float | None = MISSING


@dataclass
class TrainConfig:
    """The root config (``conf/train.yaml``)."""

    task_name: str = MISSING
    tags: list[str] = field(default_factory=list)
    seed: int = MISSING
    ckpt_path: str | None = None
    optimized_metric: str = MISSING
    skip_if_done: bool = True
    resume: bool = True
    keep_checkpoints: bool = False
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    save_student: bool | None = None
    allow_no_negatives: bool = False
    annotation: AnnotationConfig = field(default_factory=AnnotationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    model: Any = MISSING
    miner: Any = MISSING
    loss: Any = MISSING
    teacher: Any = None  # a scorer config; None: the miner's scorer
    reference: Any = None  # the scorer that measures negative hardness; None: not measured
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None


@dataclass
class MineConfig:
    """The root config of ``zelo-mine`` (``conf/mine.yaml``)."""

    task_name: str = MISSING
    seed: int = MISSING
    output_dir: str = MISSING
    output_format: str = MISSING
    num_negatives: int = MISSING
    split: str = MISSING
    max_queries: int | None = None
    overwrite: bool = False
    annotation: AnnotationConfig = field(default_factory=AnnotationConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    miner: Any = MISSING
    teacher: Any = None  # a scorer config for the FN estimate; None: the first of fn_teachers
    fn_teachers: dict[str, Any] = field(default_factory=dict)  # that is not the miner's scorer
    output_scores: bool = False
    st_columns_only: bool = False
    max_score: float | None = None
    min_score: float | None = None


@dataclass
class MinerConfig:
    """:class:`zelo.mining.base.Miner`: every option of the ``miner`` group but ``adaptive``."""

    _target_: str = "zelo.mining.base.Miner"
    scorer: Any = MISSING
    rules: dict[str, Any] = field(default_factory=dict)
    sampling: Any = MISSING
    depth: int = MISSING
    exclude_positives: bool = MISSING
    drop_judged: bool = MISSING
    mine_every_n_epochs: int = MISSING
    drop_min_grade: int = 1  # with drop_judged: drop documents judged at this grade or above


@dataclass
class AdaptiveMinerConfig:
    _target_: str = "zelo.mining.adaptive.AdaptiveMiner"
    base: MinerConfig = MISSING
    knob: str = MISSING
    levels: list[float] = MISSING
    start: float = MISSING
    tolerance: float = MISSING


@dataclass
class StudentConfig:
    """The optimisation and evaluation options every student takes, whatever builds it."""

    lr: float = MISSING
    weight_decay: float = MISSING
    sparse_lr: float | None = None
    warmup_ratio: float = MISSING
    decay: str = MISSING
    corpus_batch_size: int = MISSING
    search_depth: int = MISSING


@dataclass
class BiEncoderConfig(StudentConfig):
    _target_: str = "zelo.models.biencoder.BiEncoderModule"
    encoder: Any = MISSING


@dataclass
class STModelConfig(StudentConfig):
    """``model=st``: a SentenceTransformer folder as the student (:func:`zelo.st.models.st_student`)."""

    _target_: str = "zelo.st.models.st_student"
    path: str = MISSING
    max_length: int | None = None
    query_max_length: int | None = None
    normalize: bool | None = None
    query_prompt: str | None = None
    document_prompt: str | None = None
    query_prompt_name: str | None = None
    document_prompt_name: str | None = None


PLAIN = (int, float, str, bool)


def _field_type(hint: Any) -> Any:
    """A signature's type as OmegaConf takes it (``X | None`` -> ``Optional[X]``; a type it
    cannot hold, e.g. an encoder, -> ``Any``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and args[0] in PLAIN:
            return typing.Optional[args[0]]  # noqa: UP045 (OmegaConf takes Optional)
        return Any
    return hint if hint in PLAIN or typing.get_origin(hint) in (list, dict) else Any


def _hints(fn: Callable) -> dict[str, Any]:
    """``fn``'s argument types; one that cannot be resolved here (a type-checking import) is
    ``Any``."""
    try:
        return typing.get_type_hints(fn)
    except NameError:
        out = {}
        for name, hint in getattr(fn, "__annotations__", {}).items():
            try:
                out[name] = eval(hint, fn.__globals__) if isinstance(hint, str) else hint  # noqa: S307
            except NameError:
                out[name] = Any
        return out


def arguments(target: Callable) -> list[tuple[inspect.Parameter, Any]]:
    """``target``'s keyword arguments with their types; a class's ``**options`` follow its
    bases' ``__init__`` (the first of each name wins), a function's the optional arguments of
    the class it returns."""
    if not inspect.isclass(target):
        hints = _hints(target)
        params = list(inspect.signature(target).parameters.values())
        out = [(p, hints.get(p.name, Any)) for p in params]
        if any(p.kind == p.VAR_KEYWORD for p in params) and inspect.isclass(hints.get("return")):
            names = {p.name for p in params}
            optional = [a for a in arguments(hints["return"]) if a[0].default is not a[0].empty]
            out += [a for a in optional if a[0].name not in names]
        return out
    out, seen = [], set()
    for cls in target.__mro__:
        if "__init__" not in vars(cls):
            continue
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        hints = _hints(cls.__init__)
        out += [(p, hints.get(p.name, Any)) for p in params if p.name not in seen]
        seen |= {p.name for p in params}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return out


def signature_schema(target: Callable, partial: bool, passed: tuple[str, ...] = ()) -> type:
    """A schema derived from ``target``'s signature: ``_target_`` (and ``_partial_``), then one
    field per argument, typed by its annotation, ``MISSING`` (``None`` where the default is
    ``None``). A partial rule's first argument (the candidates) is left to the call, and so are
    the ``passed`` arguments the code gives (a student's loss and corpus)."""
    params = arguments(target)
    fields: list[tuple] = [("_target_", str, f"{target.__module__}.{target.__qualname__}")]
    if partial:
        fields.append(("_partial_", bool, True))
        params = params[1:]
    for p, hint in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in passed:
            continue
        default = None if p.default is None else MISSING
        fields.append((p.name, _field_type(hint), field(default=default)))
    return make_dataclass(f"{target.__qualname__}Schema", fields)


def yaml_schemas(group: str, passed: tuple[str, ...] = ()) -> dict[tuple[str, str], type]:
    """``(group, <option>)`` for every ``conf/<group>/<option>.yaml``, from its ``_target_``'s
    signature: a new option of the group needs no entry anywhere."""
    out = {}
    for path in sorted(Path(CONF_DIR, group).glob("*.yaml")):
        target = OmegaConf.load(path).get("_target_")
        if target:
            out[(group, path.stem)] = signature_schema(get_object(target), False, passed)
    return out


def _members(package: str, keep: Callable[[str, Any], bool]) -> dict[str, Any]:
    """``name -> object`` defined in the modules of ``package`` that ``keep`` accepts."""
    out = {}
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) == module.__name__ and keep(name, obj):
                out[name] = obj
    return out


def rule_schemas(package: str | None = None) -> dict[tuple[str, str], type]:
    """``("rule", <name>)`` for every rule ``<name>_mask`` in ``package`` (default
    :mod:`zelo.mining.rules`)."""
    found = _members(package or RULES_PACKAGE, lambda n, o: n.endswith("_mask"))
    rules = {n: f for n, f in found.items() if inspect.isfunction(f)}
    return {("rule", n.removesuffix("_mask")): signature_schema(f, True) for n, f in rules.items()}


def sampler_schemas() -> dict[tuple[str, str], type]:
    """``("sampling", <name>)`` for every class ``<Name>Sampler`` in :mod:`zelo.mining.sampling`."""
    found = _members(
        SAMPLING_PACKAGE,
        lambda n, o: n.endswith("Sampler") and n != "Sampler" and inspect.isclass(o),
    )
    return {
        ("sampling", n.removesuffix("Sampler").lower()): signature_schema(c, False)
        for n, c in found.items()
    }


RULES_PACKAGE = "zelo.mining.rules"
SAMPLING_PACKAGE = "zelo.mining.sampling"
OPTION_SCHEMAS: dict[tuple[str, str], type] = {
    # every miner option is a Miner (or the adaptive one around it): conf/common/miner.yaml
    ("miner", "miner"): MinerConfig,
    ("miner", "adaptive"): AdaptiveMinerConfig,
    # the students' (hand-written: deriving them would import Lightning at every config load)
    **{("model", m): BiEncoderConfig for m in ("static", "minilm", "mpnet", "hf", "tiny")},
    ("model", "st"): STModelConfig,
}
"""(group, option) -> schema dataclass, stored as ``schema/<group>/<option>``; the others are
derived from the code and the YAML (:func:`option_schemas`)."""


@functools.cache
def option_schemas() -> dict[tuple[str, str], type]:
    """Every schema: :data:`OPTION_SCHEMAS`, one per rule and per sampler from their code, one per
    loss option from its YAML's ``_target_`` (derived once per process)."""
    return {**OPTION_SCHEMAS, **rule_schemas(), **sampler_schemas(), **yaml_schemas("loss")}


def register_resolvers() -> None:
    for name, fn in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def register_configs() -> None:
    """Register resolvers and every schema in Hydra's ConfigStore (idempotent)."""
    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="mine_schema", node=MineConfig)
    for (group, option), node in option_schemas().items():
        cs.store(group=f"schema/{group}", name=option, node=node)
