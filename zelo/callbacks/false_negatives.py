"""The false-negative monitor: what the mined and in-batch negatives really are, every epoch.

A thin callback: it is handed each mining pass as it is published, reads the training batches,
and logs what the pure functions of :mod:`zelo.eval.false_negatives` compute. The pass's own
figures (``miner/ndcg@10``, ``mining/*``) are logged by the mining step
(:class:`~zelo.callbacks.run_state.EpochMining`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch

from zelo.eval.false_negatives import (
    inbatch_false_negatives,
    relevance_of,
    score_margins,
    student_view,
    teacher_false_negative_rate,
    teacher_scores,
)
from zelo.keys import (
    FN_EPOCH,
    FN_INBATCH_RATE,
    FN_STUDENT_MARGIN,
    FN_TEACHER_MARGIN,
    FN_TEACHER_RATE,
    QUANTILES,
    TRAINER_GLOBAL_STEP,
    quantile_key,
)
from zelo.types import MiningPass, Scorer

log = logging.getLogger(__name__)


class FalseNegativeMonitor(pl.Callback):
    """Logs false-negative measurements to every logger (W&B histograms where W&B is on).

    At every mining pass: the teacher estimate (``fn/teacher_rate``: share of negatives the
    teacher scores at or above the positive), usable where no full judgments exist, and the
    teacher's margins (negative − positive). Every epoch: the FN rate among in-batch negatives
    (``fn/inbatch_rate``), and how many mined negatives the *student* ranks above the positive,
    split by true and false negatives.

    Args:
        teacher: a scorer for the teacher estimate; ``None`` uses the miner's own scores.
        positive_reduce: how several positives give one reference score (min, max, mean).
        student_max_queries: training queries sampled for the student measurement (0: off).
        histograms: send margin histograms to W&B.
        seed: seeds the query sample.
    """

    def __init__(
        self,
        teacher: Scorer | None = None,
        positive_reduce: str = "min",
        student_max_queries: int = 256,
        histograms: bool = True,
        seed: int = 0,
    ) -> None:
        self.teacher = teacher
        self.positive_reduce = positive_reduce
        self.student_max_queries = student_max_queries
        self.histograms = histograms
        self.seed = seed
        self._latest: MiningPass | None = None  # handed by the DataModule
        self._seen: MiningPass | None = None
        self._inbatch = [0, 0]
        self.history: list[dict[str, float]] = []

    def on_mining_pass(self, mining_pass: MiningPass) -> None:
        """Take the pass just mined; it is measured when its first epoch starts."""
        self._latest = mining_pass

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        latest = self._latest
        if latest is not None and latest is not self._seen:
            neg, pos = teacher_scores(self.teacher, latest.input, latest.mined)
            stats = {FN_TEACHER_RATE: teacher_false_negative_rate(neg, pos, self.positive_reduce)}
            margins = score_margins(neg, pos, self.positive_reduce)
            self._log(trainer, stats, margins, FN_TEACHER_MARGIN)
            self._seen = latest
        self._inbatch = [0, 0]

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: dict,
        batch_idx: int,
    ) -> None:
        judgments = self._seen.input.judgments if self._seen is not None else None
        if judgments is None:
            return
        rows = [judgments[i] for i in batch["query_index"].tolist()]
        fn, total = inbatch_false_negatives(batch["doc_ids"].cpu(), rows, batch["pos_sets"].cpu())
        self._inbatch[0] += fn
        self._inbatch[1] += total

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fn, total = self._inbatch
        stats = {
            FN_INBATCH_RATE: fn / total if total else math.nan,
            FN_EPOCH: trainer.current_epoch,
        }
        margins = None
        if self.student_max_queries and self._seen is not None:
            student, margins = self.measure_student(self._seen, pl_module.encoder)
            stats.update(student)
        self._log(trainer, stats, margins, FN_STUDENT_MARGIN)

    @torch.no_grad()
    def measure_student(
        self, mining_pass: MiningPass, encoder: Any
    ) -> tuple[dict[str, float], torch.Tensor]:
        """:func:`~zelo.eval.false_negatives.student_view` on a seeded sample of training queries."""
        inp, mined = mining_pass.input, mining_pass.mined
        g = torch.Generator().manual_seed(self.seed)
        sample = torch.randperm(len(inp.query_texts), generator=g)[: self.student_max_queries]
        sample = [i for i in sample.tolist() if inp.positives[i]]
        neg_ids = mined.neg_ids[sample]  # [S, N]
        pos_ids = torch.as_tensor([inp.positives[i][0] for i in sample], dtype=torch.long)
        docs, inverse = torch.cat([pos_ids, neg_ids.flatten().clamp(min=0)]).unique(
            return_inverse=True
        )
        d_emb = encoder.encode([inp.doc_texts[d] for d in docs.tolist()], batch_size=128)
        q_emb = encoder.encode([inp.query_texts[i] for i in sample], batch_size=128, is_query=True)
        pos_emb = d_emb[inverse[: len(sample)]]  # [S, D]
        neg_emb = d_emb[inverse[len(sample) :]].view(*neg_ids.shape, -1)  # [S, N, D]
        judged = inp.judgments or [{} for _ in inp.query_texts]
        grades = relevance_of(neg_ids, [judged[i] for i in sample])
        return student_view(q_emb, pos_emb, neg_emb, grades)

    def _log(
        self,
        trainer: pl.Trainer,
        stats: dict[str, Any],
        margins: torch.Tensor | None,
        name: str,
    ) -> None:
        numeric = {k: float(v) for k, v in stats.items() if math.isfinite(float(v))}
        if margins is not None and margins.numel():
            q = torch.quantile(margins.float(), torch.tensor([p / 100 for p in QUANTILES]))
            numeric.update(
                {quantile_key(name, p): float(v) for p, v in zip(QUANTILES, q, strict=True)}
            )
        self.history.append(numeric)
        # the latest figures also reach the run's metrics.json, as the trainer's own metrics do
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in numeric.items()})
        for logger in trainer.loggers:
            logger.log_metrics(numeric, step=trainer.global_step)
            if self.histograms and margins is not None and margins.numel():
                _wandb_histogram(logger, name, margins, trainer.global_step)


def _wandb_histogram(logger: Any, name: str, values: torch.Tensor, step: int) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not isinstance(logger, WandbLogger):
        return
    import wandb

    logger.experiment.log(
        {name: wandb.Histogram(values.float().numpy()), TRAINER_GLOBAL_STEP: step}
    )
