"""Typed schemas of the configs, OmegaConf resolvers, and ``register_configs()``.

Schemas hold types and ``MISSING``; values stay in YAML. Each swept option's schema lives in
ConfigStore under ``schema/<group>/<option>`` and is pulled into its YAML with
``defaults: [/schema/<group>/<option>@_here_, _self_]``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
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
class TopSamplerConfig:
    _target_: str = "zelo.mining.sampling.samplers.TopSampler"
    range_max: int | None = MISSING


@dataclass
class UniformSamplerConfig(TopSamplerConfig):
    _target_: str = "zelo.mining.sampling.samplers.UniformSampler"


@dataclass
class SimANSSamplerConfig(TopSamplerConfig):
    _target_: str = "zelo.mining.sampling.samplers.SimANSSampler"
    a: float = MISSING
    b: float = MISSING
    pos_reduce: str = MISSING


@dataclass
class ShiftRuleConfig:
    _target_: str = "zelo.mining.rules.shifted.shift_mask"
    _partial_: bool = True
    shift: int = MISSING


@dataclass
class AbsRuleConfig:
    _target_: str = "zelo.mining.rules.topk_abs.abs_mask"
    _partial_: bool = True
    max_score: float = MISSING
    min_score: float | None = None


@dataclass
class MarginPosRuleConfig:
    _target_: str = "zelo.mining.rules.margin_pos.margin_pos_mask"
    _partial_: bool = True
    margin: float = MISSING
    pos_reduce: str = MISSING


@dataclass
class PercPosRuleConfig:
    _target_: str = "zelo.mining.rules.perc_pos.perc_pos_mask"
    _partial_: bool = True
    percentage: float = MISSING
    pos_reduce: str = MISSING


@dataclass
class AdaptiveMinerConfig:
    _target_: str = "zelo.mining.adaptive.AdaptiveMiner"
    base: MinerConfig = MISSING
    knob: str = MISSING
    levels: list[float] = MISSING
    start: float = MISSING
    tolerance: float = MISSING


@dataclass
class InfoNCELossConfig:
    _target_: str = "zelo.losses.infonce.InfoNCELoss"
    temperature: float = MISSING
    learnable_temperature: bool = MISSING
    in_batch_negatives: bool = MISSING
    mask_known_positives: bool = MISSING
    min_temperature: float = MISSING


@dataclass
class MaskedInfoNCELossConfig(InfoNCELossConfig):
    _target_: str = "zelo.losses.infonce_masked.MaskedInfoNCELoss"
    margin: float = MISSING
    margin_strategy: str = MISSING


@dataclass
class DebiasedLossConfig(InfoNCELossConfig):
    _target_: str = "zelo.losses.debiased.DebiasedContrastiveLoss"
    tau_plus: float = MISSING
    min_similarity: float = MISSING


@dataclass
class DistillLossConfig(InfoNCELossConfig):
    _target_: str = "zelo.losses.distill.DistillLoss"
    teacher_temperature: float | None = MISSING  # null: the teacher scorer's own
    alpha: float = MISSING


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


MINER_OPTIONS = (
    "random", "topk", "bm25", "cross_encoder", "ensemble", "llm_ensemble", "oracle", "dial",
    "shifted", "abs", "marginpos", "percpos", "minilm_l3", "mpnet", "fused", "precomputed",
)  # fmt: skip
OPTION_SCHEMAS: dict[tuple[str, str], type] = {
    **{("miner", m): MinerConfig for m in MINER_OPTIONS},
    ("miner", "adaptive"): AdaptiveMinerConfig,
    ("miner", "adaptive_oracle"): AdaptiveMinerConfig,
    ("sampling", "top"): TopSamplerConfig,
    ("sampling", "uniform"): UniformSamplerConfig,
    ("sampling", "simans"): SimANSSamplerConfig,
    ("rule", "shift"): ShiftRuleConfig,
    ("rule", "abs"): AbsRuleConfig,
    ("rule", "margin_pos"): MarginPosRuleConfig,
    ("rule", "perc_pos"): PercPosRuleConfig,
    ("loss", "infonce"): InfoNCELossConfig,
    ("loss", "infonce_masked"): MaskedInfoNCELossConfig,
    ("loss", "debiased"): DebiasedLossConfig,
    ("loss", "distill"): DistillLossConfig,
    **{("model", m): BiEncoderConfig for m in ("static", "minilm", "mpnet", "hf", "tiny")},
    ("model", "st"): STModelConfig,
}
"""(group, option) -> schema dataclass, stored as ``schema/<group>/<option>``."""


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
    for (group, option), node in OPTION_SCHEMAS.items():
        cs.store(group=f"schema/{group}", name=option, node=node)
