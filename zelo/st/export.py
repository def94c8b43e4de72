"""``mine_to_dataset(cfg)``: mine one split, measure the pass, write a sentence-transformers
training dataset plus ``zelo_summary.json``, atomically (the folder appears whole or not at all)."""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from zelo.data.splits import build_query_set
from zelo.errors import ConfigError, ZeloError, require
from zelo.eval.false_negatives import relevance_of, teacher_scores
from zelo.keys import (
    FN_RATE,
    FN_TEACHER_IS_MINER,
    FN_TEACHER_RATE,
    MINER_NDCG,
    MINING_FN_PER_QUERY,
    RUN_DATASET,
    RUN_MINER,
    RUN_SEED,
    RUN_SPLIT,
    RUN_TEACHER,
)
from zelo.mining.measured import mine_and_measure
from zelo.run.identity import choice
from zelo.run.lock import JobLock, who
from zelo.run.validation import validate_config
from zelo.st.formats import FORMATS, ZELO_PREFIX, MinedView, build_rows, st_columns, with_scores
from zelo.types import Collection, MinedNegatives, MiningInput, QuerySet
from zelo.utils.io import create_temporary_folder, remove_temporary, sweep_temporaries
from zelo.utils.owned import foreign_files, install_folder, owned_files
from zelo.utils.scores import at_or_above, reference_score

log = logging.getLogger(__name__)

SUMMARY_FILE = "zelo_summary.json"
CONFIG_FILE = "zelo_config.yaml"


def check_output(out: Path, overwrite: bool) -> None:
    """Fail before any work when ``output_dir`` exists and may not be replaced: without
    ``overwrite``, or when it is not a ``zelo-mine`` output (its manifest does not list every
    file in it, or it holds no summary)."""
    if not (out.exists() or out.is_symlink()):
        return
    if not overwrite:
        raise ConfigError(f"output_dir={out} exists; choose another or set overwrite=true")
    foreign = foreign_files(out) if out.is_dir() and not out.is_symlink() else [out.name]
    if foreign or SUMMARY_FILE not in owned_files(out):
        listed = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise ConfigError(
            f"output_dir={out} is not a zelo-mine output"
            + (f" (files it did not write: {listed})" if foreign else " (no zelo-mine manifest)")
            + ": overwrite=true replaces only a folder zelo-mine wrote; choose another "
            "output_dir or move that one away"
        )


def query_set(cfg: DictConfig, collection: Collection) -> QuerySet:
    """The queries of ``cfg.split`` with the annotation view (``cfg.annotation``) applied."""
    if cfg.split not in collection.qrels:
        raise ConfigError(
            f"split={cfg.split}: {collection.name} has qrels splits {sorted(collection.qrels)}"
        )
    qs = build_query_set(
        collection,
        collection.qrels[cfg.split],
        keep_positives=cfg.annotation.keep_positives,
        strategy=cfg.annotation.strategy,
        seed=cfg.seed,
    )
    return qs if cfg.max_queries is None else qs.head(int(cfg.max_queries))


SCORE_RANGE_RULE = "score_range"


def miner_config(cfg: DictConfig) -> DictConfig:
    """``cfg.miner``, with a ``score_range`` rule (TopK-Abs with both bounds) after its own rules
    when ``max_score`` or ``min_score`` is set."""
    if cfg.get("max_score") is None and cfg.get("min_score") is None:
        return cfg.miner
    miner = copy.deepcopy(cfg.miner)
    with open_dict(miner):
        miner.rules[SCORE_RANGE_RULE] = {
            "_target_": "zelo.mining.rules.topk_abs.abs_mask",
            "_partial_": True,
            "max_score": float("inf") if cfg.max_score is None else float(cfg.max_score),
            "min_score": None if cfg.min_score is None else float(cfg.min_score),
        }
    return miner


def plain(node: Any) -> Any:
    """A config node as plain containers (``None`` stays ``None``), for comparing two scorers."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def fn_teacher(cfg: DictConfig) -> tuple[Any, str, bool]:
    """The teacher of the false-negative estimate: ``teacher=<option>`` if set, else the first
    of ``fn_teachers`` that is not the miner's own scorer (a scorer judging its own ranking
    finds few false negatives by construction: a positive-aware rule has already dropped what it
    rates near the positive).

    Returns:
        ``(config, name, is_the_miner's_scorer)``; config ``None`` scores with the miner's scorer.
    """
    own = plain(cfg.miner.get("scorer"))
    if cfg.get("teacher"):
        return cfg.teacher, choice(cfg, "teacher"), plain(cfg.teacher) == own
    for name, candidate in (cfg.get("fn_teachers") or {}).items():
        if plain(candidate) != own:
            return candidate, str(name), False
    return None, "miner", True


def fn_flags(
    mined: MinedNegatives, qs: QuerySet, inp: MiningInput, teacher: Any
) -> dict[str, torch.Tensor]:
    """Per negative ``[Q, N]``: ``fn`` (the split's judgments grade it relevant) and
    ``fn_teacher`` (the teacher, ``None``: the miner's scorer, rates it at or above the
    positive)."""
    neg, pos = teacher_scores(teacher, inp, mined)
    return {
        "fn": relevance_of(mined.neg_ids, qs.judgments) > 0,
        # the rule of fn/teacher_rate and the loss's guide: at or above the (least) positive
        "fn_teacher": at_or_above(neg, reference_score(pos)),
    }


def mined_view(
    collection: Collection, qs: QuerySet, mined: MinedNegatives, flags: dict[str, torch.Tensor]
) -> MinedView:
    """The pass as plain lists, with the input's anchor/positive column names."""
    columns = tuple(collection.info.get("columns") or ("anchor", "positive"))
    return MinedView(
        query_ids=qs.query_ids,
        query_texts=qs.query_texts,
        doc_ids=collection.doc_ids,
        doc_texts=collection.doc_texts,
        positives=qs.positives,
        pos_scores=mined.pos_scores.tolist(),
        neg_ids=mined.neg_ids.tolist(),
        neg_scores=mined.neg_scores.tolist(),
        flags={k: v.tolist() for k, v in flags.items()},
        columns=columns,  # type: ignore[arg-type]
    )


def summarise(
    cfg: DictConfig,
    qs: QuerySet,
    mined: MinedNegatives,
    stats: dict[str, float],
    flags: dict[str, torch.Tensor],
    teacher: tuple[str, bool],
) -> dict[str, Any]:
    """The pass's figures (``stats``, keys as in a training run's ``metrics.json``), its
    provenance, and ``not_measured``: each figure that could not be measured here and why (its
    value is null)."""
    stats = dict(stats)
    valid = mined.neg_ids >= 0
    rated = flags["fn_teacher"][valid]
    stats[FN_TEACHER_RATE] = float(rated.float().mean()) if rated.numel() else math.nan
    hidden = sum(len(h) for h in qs.hidden)
    not_measured = {}
    if hidden == 0:  # every judged document is a positive: no negative can be a known FN
        for key in (FN_RATE, MINING_FN_PER_QUERY):
            stats[key] = math.nan
        not_measured[FN_RATE] = (
            f"every judged document of split {cfg.split} is a labelled positive "
            f"(annotation.keep_positives={_yaml(cfg.annotation.keep_positives)}), so no mined negative "
            "can be a known false negative; annotation.keep_positives=1 hides the others"
        )
    name, is_miner = teacher
    if is_miner:
        not_measured[FN_TEACHER_RATE] = (
            f"the teacher ({name}) is the miner's own scorer: a self-estimate, not an independent "
            "one (teacher=<option> sets another)"
        )
    return {
        **stats,
        RUN_MINER: choice(cfg, "miner"),
        RUN_TEACHER: name,
        FN_TEACHER_IS_MINER: is_miner,
        RUN_DATASET: str(cfg.dataset.name),
        RUN_SPLIT: str(cfg.split),
        RUN_SEED: int(cfg.seed),
        "queries": len(qs),
        "positives": sum(len(p) for p in qs.positives),
        "hidden_judgments": hidden,
        "output_format": str(cfg.output_format),
        "num_negatives": int(cfg.num_negatives),
        "not_measured": not_measured,
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What was and was not measured, in words, for the log."""
    lines = [
        f"miner/ndcg@10 {summary[MINER_NDCG]:.4f}: the miner's ranking of the corpus "
        f"against the {summary[RUN_SPLIT]} judgments ({summary['queries']} queries)"
    ]
    fn = summary.get(FN_RATE)
    if fn is None or math.isnan(fn):
        lines.append(
            f"{FN_RATE} not measured: {summary['not_measured'].get(FN_RATE, 'no judgments')}"
        )
    else:
        lines.append(
            f"{FN_RATE} {fn:.4f}: share of mined negatives the judgments call relevant "
            f"({summary['hidden_judgments']} judged documents hidden from the positives)"
        )
    rate, teacher = summary[FN_TEACHER_RATE], summary[RUN_TEACHER]
    what = f"fn/teacher_rate {rate:.4f}: share of mined negatives {teacher} scores at or above the positive"
    if summary[FN_TEACHER_IS_MINER]:
        what += f" ({summary['not_measured'][FN_TEACHER_RATE]})"
    lines.append(what)
    return lines


def mine_to_dataset(cfg: DictConfig) -> dict[str, Any]:
    """Mine ``cfg.split`` of ``cfg.dataset`` with ``cfg.miner`` and save the ST dataset.

    Returns:
        The summary, also written as ``<output_dir>/zelo_summary.json``.
    """
    validate_config(cfg)  # output_dir given, seed in range, the miner's values in range
    out = Path(cfg.output_dir)
    lock = JobLock(out.parent, name=f".{out.name}.lock")
    if not lock.acquire():
        raise ConfigError(
            f"output_dir={out} is being written by another zelo-mine ({who(lock.holder)}); "
            "wait for it or choose another output_dir"
        )
    try:
        sweep_temporaries(out.parent, target=out.name, exclusive=True)  # held: all stale
        check_output(out, cfg.overwrite)
        return _mine(cfg, out)
    finally:
        lock.release()


def _mine(cfg: DictConfig, out: Path) -> dict[str, Any]:
    if cfg.output_format not in FORMATS:
        raise ConfigError(f"output_format must be one of {FORMATS}, got {cfg.output_format!r}")
    if cfg.num_negatives < 1:
        raise ConfigError(f"num_negatives must be >= 1, got {cfg.num_negatives}")
    collection = instantiate(cfg.dataset.source)
    qs = query_set(cfg, collection)
    miner = instantiate(miner_config(cfg))
    teacher_cfg, teacher_name, teacher_is_miner = fn_teacher(cfg)
    teacher = instantiate(teacher_cfg) if teacher_cfg is not None else None
    inp = MiningInput(
        qs.query_texts, collection.doc_texts, qs.positives, cfg.num_negatives, cfg.seed,
        judgments=qs.judgments,
    )  # fmt: skip
    mined, stats = mine_and_measure(miner, inp)
    flags = fn_flags(mined, qs, inp, teacher)
    summary = summarise(cfg, qs, mined, stats, flags, (teacher_name, teacher_is_miner))
    view = mined_view(collection, qs, mined, flags)
    if FN_RATE in summary["not_measured"]:  # unknown, not "no": nothing was hidden
        view.flags["fn"] = [[None] * len(row) for row in view.flags["fn"]]
    rows = build_rows(view, cfg.output_format)
    if cfg.get("output_scores"):
        rows = with_scores(rows, cfg.output_format)
    n_rows = len(next(iter(rows.values())))
    if n_rows == 0:
        raise ZeloError(
            f"no row to write: {mined.num_short} of {len(qs)} queries ran short of "
            f"num_negatives={cfg.num_negatives} after the rules (dropped {mined.dropped}); "
            "lower num_negatives, raise miner.depth or loosen the miner's rule"
        )
    summary["rows"] = n_rows
    if cfg.get("st_columns_only"):  # what SentenceTransformerTrainer takes as it is
        rows = {k: v for k, v in rows.items() if not k.startswith(ZELO_PREFIX)}
    summary["columns"] = {"st": st_columns(list(rows)), "zelo": _zelo(list(rows))}
    save_dataset(rows, out, summary, OmegaConf.to_yaml(cfg, resolve=True))
    log.info("mined %s into %s; summary:\n%s", collection.name, out, _json(summary))
    for line in summary_lines(summary):
        log.info("%s", line)
    return summary


def save_dataset(rows: dict[str, list], out: Path, summary: dict[str, Any], config: str) -> None:
    """``Dataset.from_dict(rows).save_to_disk`` into a new temporary sibling folder, the summary
    and the config beside the data, a manifest of those files, then a rename onto ``out``
    (replacing the earlier zelo-mine output there). The temporary goes on any error."""
    datasets = require("datasets", "zelo-mine (it writes a datasets folder)")

    tmp = create_temporary_folder(out)
    try:
        datasets.Dataset.from_dict(rows).save_to_disk(str(tmp))
        (tmp / SUMMARY_FILE).write_text(_json(summary) + "\n")
        (tmp / CONFIG_FILE).write_text(config)
        install_folder(tmp, out)
    finally:
        remove_temporary(tmp)  # gone already when installed


def _yaml(value: Any) -> str:
    return "null" if value is None else str(value)


def _zelo(columns: list[str]) -> list[str]:
    return [c for c in columns if c.startswith(ZELO_PREFIX)]


def _json(summary: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()}
    return json.dumps(clean, indent=2, sort_keys=True)
