"""``train(cfg)``: seed, instantiate, measure zero-shot, mine, fit, test, write ``metrics.json``.

Each builder returns what it built (:class:`BuiltRun`, :class:`~zelo.run.job.JobCallbacks`), and
the pipeline hands run state to whoever needs it: the DataModule publishes each mining pass to
the subscribers given here, and no component below reaches into the trainer for another one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from zelo.callbacks.run_state import EpochMining, MinerFeedback
from zelo.data.datamodule import RetrievalDataModule
from zelo.data.splits import build_query_sets, resolve_splits
from zelo.keys import (
    COLLECTION_INFO_FILE,
    CONFIG_FILE,
    DEV_NDCG,
    FN_RATE,
    FN_RATE_FIRST,
    FN_TEACHER_RATE,
    METRICS_FILE,
    MINER_NDCG,
    MINER_NDCG_FIRST,
    MINING_PASSES,
    RUN_ADAPTIVE,
    RUN_CHOICES,
    RUN_COLLECTION_SEED,
    RUN_CONTROL,
    RUN_DATASET,
    RUN_FN_TEACHER,
    RUN_KEEP_POSITIVES,
    RUN_SEED,
    RUN_SPLIT_SEED,
    RUN_TEACHER,
    STUDENT_DIR,
    TEST_NDCG,
    TEST_PREFIX,
    TIME_FIT_S,
    TIME_TOTAL_S,
    TRAIN_LOSS,
    TRAIN_LOSS_EPOCH,
    TRAINER_EPOCHS,
    TRAINER_GLOBAL_STEP,
    VAL_PREFIX,
    ZERO_SHOT,
)
from zelo.mining.base import Miner
from zelo.run import signals
from zelo.run.checkpoint import AtomicCheckpointIO, TrainingCheckpoint
from zelo.run.identity import choice
from zelo.run.job import (
    JobCallbacks,
    check_trained,
    close_loggers,
    finished,
    job_slot,
    keep_student,
    resume_checkpoint,
    run_callbacks,
    save_student,
)
from zelo.run.logs import quiet_logs
from zelo.run.validation import validate_config
from zelo.types import MiningSubscriber, Scorer
from zelo.utils.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltRun:
    """What :func:`build` made: the student's LightningModule, its loss, the DataModule (with the
    collection, the miner and the losses' teacher)."""

    module: pl.LightningModule
    loss: Any
    datamodule: RetrievalDataModule


def build(cfg: DictConfig) -> BuiltRun:
    """Instantiate the collection, query sets, miner, loss, student and DataModule from ``cfg``."""
    collection = instantiate(cfg.dataset.source)
    splits = resolve_splits(
        collection,
        **cfg.dataset.splits,
        seed=cfg.dataset.split_seed,
        draw_missing=cfg.dataset.get("draw_missing_splits", False),
    )
    data = dict(cfg.data)
    query_sets = build_query_sets(
        collection,
        splits,
        cfg.annotation.keep_positives,
        cfg.annotation.strategy,
        cfg.seed,
        data.pop("max_train_queries", None),
        data.pop("max_eval_queries", None),
    )
    miner = instantiate(cfg.miner)
    loss = instantiate(cfg.loss)
    module = instantiate(cfg.model, loss=loss, corpus=collection.doc_texts)
    teacher = None
    if loss.needs_teacher:  # the losses' teacher: the `teacher` option, else the miner's scorer
        teacher = instantiate(cfg.teacher) if cfg.get("teacher") is not None else miner.scorer
    elif cfg.get("teacher") is not None:
        log.warning(
            "teacher=%s is unused: loss %s takes no teacher",
            choice(cfg, "teacher"),
            choice(cfg, "loss"),
        )
    reference = instantiate(cfg.reference) if cfg.get("reference") is not None else None
    datamodule = RetrievalDataModule(
        collection, query_sets, miner, module.encoder, teacher, reference, seed=cfg.seed, **data
    )
    return BuiltRun(module, loss, datamodule)


def instantiate_list(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (loggers, callbacks); skip nulls."""
    if not group:
        return []
    return [instantiate(c) for c in group.values() if c is not None and "_target_" in c]


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one training job and return its flat metrics dict (also written to ``metrics.json``).

    A job finished with this config is skipped (its metrics are returned), and so is a job
    another live process holds (``{}`` is returned); a folder finished with another config is
    refused (:class:`~zelo.errors.ConfigError`).
    """
    out_dir = Path(cfg.paths.output_dir)
    if (done := finished(cfg, out_dir, refuse=False)) is not None:
        return done
    quiet_logs()
    with job_slot(out_dir) as lock:
        if not lock.held:
            return {}
        if (done := finished(cfg, out_dir)) is not None:  # or refused: another config's
            return done
        validate_config(cfg)  # before any data is loaded
        return _train(cfg, out_dir)


def _train(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    atomic_write_text(out_dir / CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))
    signals.phase("loading data and building the run")
    built = build(cfg)
    module, datamodule = built.module, built.datamodule
    # loader facts and the split actually used (seeded or not), beside config.yaml
    atomic_write_json(out_dir / COLLECTION_INFO_FILE, datamodule.collection.info)
    loggers = instantiate_list(cfg.get("logger"))
    job = run_callbacks(cfg, out_dir)
    trainer = make_trainer(cfg, built, loggers, job)
    error: BaseException | None = None
    try:
        for lg in loggers:
            lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        signals.phase("the zero-shot evaluation")
        before = evaluate(trainer, module, datamodule, suffix="_before")
        fit_start = time.perf_counter()
        signals.phase("training (between batches)")
        trainer.fit(
            module, datamodule=datamodule, **resume_checkpoint(cfg, out_dir, job.checkpoint)
        )
        fit_seconds = time.perf_counter() - fit_start
        check_trained(cfg, trainer)
        fitted = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        # a resumed job keeps the metrics and mining passes of the run it continues
        fitted, passes = job.checkpoint.carry_over(fitted)
        signals.phase("the final evaluation")
        after = evaluate(trainer, module, datamodule, suffix="")  # final weights
        metrics = collect_metrics(cfg, trainer, built, before, {**fitted, **after}, passes)
        metrics[TIME_FIT_S] = fit_seconds
        metrics[TIME_TOTAL_S] = time.perf_counter() - start
        if trainer.is_global_zero:  # one writer; the other ranks of a DDP job return the same
            write_results(cfg, module, metrics, out_dir, job.checkpoint)
        log.info("%s; results in %s", result_line(cfg, metrics), out_dir)
        return metrics
    except BaseException as err:
        error = err
        raise
    finally:
        close_loggers(loggers, error)


def result_line(cfg: DictConfig, metrics: dict[str, Any]) -> str:
    """What a finished job says of itself: its test nDCG@10 and the zero-shot one; a trial of a
    hyper-parameter search gives its dev score only (the search's objective), since the best
    trial's test score is reported once, when the search ends."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("hparams_search"):
        dev = metrics.get(DEV_NDCG, math.nan)
        return f"{DEV_NDCG} {dev:.4f} (this trial's objective; test reported for the best trial)"
    return (
        f"{TEST_NDCG} {metrics[TEST_NDCG]:.4f} (zero-shot {metrics[f'{TEST_NDCG}{ZERO_SHOT}']:.4f})"
    )


def make_trainer(
    cfg: DictConfig, built: BuiltRun, loggers: list[Any], job: JobCallbacks
) -> pl.Trainer:
    """The trainer: the configured callbacks, the run-state ones (the miner's feedback, then the
    mining step), then the job's own (divergence guard, checkpoint). Every callback that takes
    mining passes subscribes to the DataModule."""
    datamodule = built.datamodule
    configured = instantiate_list(cfg.get("callbacks"))
    for subscriber in (*configured, *job.all):
        if isinstance(subscriber, MiningSubscriber):
            datamodule.subscribe(subscriber)
    mining = EpochMining.of(datamodule)
    trainer = instantiate(
        cfg.trainer,
        logger=loggers or False,
        callbacks=[*configured, MinerFeedback(datamodule.miner), mining, *job.all],
        # a new pass needs a new train loader
        reload_dataloaders_every_n_epochs=datamodule.remine_every_n_epochs,
    )
    trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # atomic saves, tensor-only loads
    return trainer


def write_results(
    cfg: DictConfig,
    module: pl.LightningModule,
    metrics: dict[str, Any],
    out_dir: Path,
    checkpoint: TrainingCheckpoint,
) -> None:
    """The student (when kept), then ``metrics.json`` (last, atomically); then this job's own
    checkpoint goes (unless kept), and nothing else."""
    if keep_student(cfg):
        save_student(module.encoder, out_dir / STUDENT_DIR)
    atomic_write_json(out_dir / METRICS_FILE, metrics)
    if not cfg.get("keep_checkpoints", False):
        checkpoint.remove_own()


def evaluate(
    trainer: pl.Trainer,
    module: pl.LightningModule,
    datamodule: RetrievalDataModule,
    suffix: str,
    val: bool = True,
) -> dict[str, float]:
    """Test (and validate) ``module`` now; metric keys carry ``suffix`` (``_before``: zero-shot)."""
    results: dict[str, float] = {}
    with module.metric_suffix(suffix):
        if val:
            results.update(trainer.validate(module, datamodule=datamodule, verbose=False)[0])
        results.update(trainer.test(module, datamodule=datamodule, verbose=False)[0])
    return {k: float(v) for k, v in results.items()}


def collect_metrics(
    cfg: DictConfig,
    trainer: pl.Trainer,
    built: BuiltRun,
    before: dict[str, float],
    after: dict[str, float],
    passes: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The flat dict a run leaves behind: test/val metrics, the loss, the miner's figures.

    Args:
        before: zero-shot metrics (keys end in ``_before``).
        after: the trainer's metrics after fitting plus the final test metrics.
        passes: every mining pass's stats, oldest first, across resumes (default: this
            process's passes).
    """
    datamodule = built.datamodule
    if passes is None:
        passes = [p.stats for p in datamodule.passes]
    metrics: dict[str, Any] = {**before}
    for key, value in after.items():
        if key.startswith((VAL_PREFIX, TEST_PREFIX)):
            metrics[key] = value
    metrics[TRAIN_LOSS] = after.get(TRAIN_LOSS_EPOCH, math.nan)
    # the false-negative monitor's estimate (its teacher, else the miner's own scores)
    metrics[FN_TEACHER_RATE] = after.get(FN_TEACHER_RATE, math.nan)
    if passes:
        metrics.update(passes[-1])
        metrics[MINER_NDCG_FIRST] = passes[0].get(MINER_NDCG, math.nan)
        metrics[FN_RATE_FIRST] = passes[0].get(FN_RATE, math.nan)
        metrics[MINING_PASSES] = len(passes)
    metrics[TRAINER_EPOCHS] = trainer.current_epoch
    metrics[TRAINER_GLOBAL_STEP] = trainer.global_step
    metrics[RUN_SEED] = int(cfg.seed)
    metrics[RUN_DATASET] = str(cfg.dataset.name)
    for group, key in RUN_CHOICES.items():
        metrics[key] = choice(cfg, group)
    metrics[RUN_TEACHER] = teacher_name(cfg, built.loss)
    metrics[RUN_FN_TEACHER] = fn_teacher_name(cfg)
    metrics[RUN_ADAPTIVE] = datamodule.miner.adaptive
    metrics[RUN_KEEP_POSITIVES] = cfg.annotation.keep_positives
    # the data's own seeds: the generator's (None: a loaded collection), the drawn splits' (None:
    # the splits came from the qrels)
    metrics[RUN_COLLECTION_SEED] = cfg.dataset.source.get("seed")
    metrics[RUN_SPLIT_SEED] = (datamodule.collection.info.get("splits") or {}).get("seed")
    metrics[RUN_CONTROL] = control_label(datamodule.miner, datamodule.teacher)
    return {k: _clean(v) for k, v in metrics.items()}


def control_label(miner: Miner, teacher: Scorer | None) -> str | None:
    """What of the run reads the full judgments (a control or an upper bound), else ``None``.

    ``fn_free_twin`` (``miner.drop_judged``; ``fn_free_twin:grade>=G`` with
    ``miner.drop_min_grade=G`` above 1), ``scorer:<name>`` (an oracle or simulated judges
    rank the candidates), ``teacher:<name>`` (the losses' teacher reads them).
    """
    parts = []
    if miner.drop_judged:
        grade = miner.drop_min_grade
        parts.append("fn_free_twin" if grade <= 1 else f"fn_free_twin:grade>={grade}")
    if miner.scorer.reads_judgments:
        parts.append(f"scorer:{miner.scorer.name}")
    if teacher is not None and teacher is not miner.scorer and teacher.reads_judgments:
        parts.append(f"teacher:{teacher.name}")
    return "+".join(parts) or None


def teacher_name(cfg: DictConfig, loss: Any) -> str:
    """The losses' teacher: ``none`` (the loss takes none), ``miner`` (the miner's scorer), or
    the ``teacher`` option chosen."""
    if not loss.needs_teacher:
        return "none"
    return choice(cfg, "teacher") if cfg.get("teacher") is not None else "miner"


def fn_teacher_name(cfg: DictConfig) -> str | None:
    """Whose scores ``fn/teacher_rate`` compares: ``miner`` (the miner's own: a self-estimate),
    the monitor's teacher scorer, or ``None`` when no monitor runs."""
    monitor = (cfg.get("callbacks") or {}).get("false_negatives")
    if monitor is None:
        return None
    teacher = monitor.get("teacher")
    return "miner" if teacher is None else str(teacher.get("_target_", "scorer")).rsplit(".", 1)[-1]


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
