"""Train a SentenceTransformer on a ``zelo-mine`` output with sentence-transformers' own trainer."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from zelo.errors import require
from zelo.st.formats import st_columns

log = logging.getLogger(__name__)


def st_training_view(mined_dir: str | Path) -> Any:
    """The mined dataset with zelo's columns dropped: what a sentence-transformers trainer reads
    (it tokenises every column that is not a label)."""
    datasets = require("datasets", "training from a mined dataset")

    ds = datasets.load_from_disk(str(mined_dir))
    return ds.select_columns(st_columns(ds.column_names))


def fit_mnrl(
    model_path: str | Path,
    mined_dir: str | Path,
    output_dir: str | Path,
    max_steps: int = 2,
    batch_size: int = 8,
    lr: float = 2e-5,
    seed: int = 0,
    no_duplicates: bool = True,
) -> dict[str, Any]:
    """``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss`` from a mined folder.

    Args:
        model_path: a SentenceTransformer folder to start from.
        mined_dir: a ``zelo-mine`` output (``triplet`` or ``n-tuple``).
        output_dir: the trainer's folder; the trained model is saved in ``<output_dir>/final``.
        max_steps: optimiser steps.
        batch_size: rows per step (each row's negatives plus in-batch ones).
        lr: peak learning rate.
        seed: the trainer's seed.
        no_duplicates: batches without repeated texts (``BatchSamplers.NO_DUPLICATES``): a
            triplet's anchor repeats once per negative, and a query meeting its own positive as
            another row's in-batch negative would be a false negative. Off only for data too
            small to fill a batch with distinct texts.

    Returns:
        ``steps``, ``train_loss``, ``seconds`` (the fit only) and the saved ``model`` folder.
    """
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=batch_size,
        learning_rate=lr, logging_steps=1, save_strategy="no",
        report_to="none", seed=seed, use_cpu=True, dataloader_drop_last=True,
        batch_sampler=BatchSamplers.NO_DUPLICATES if no_duplicates else BatchSamplers.BATCH_SAMPLER,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=st_training_view(mined_dir),
        loss=MultipleNegativesRankingLoss(model),
    )
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    final = Path(output_dir) / "final"
    model.save(str(final), create_model_card=False)
    log.info(
        "trained %d steps in %.1f s, loss %.4f", result.global_step, seconds, result.training_loss
    )
    return {
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "seconds": seconds,
        "model": str(final),
    }
