"""The false-negative monitor: what the mined and in-batch negatives really are, every epoch."""

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
    teacher_false_negative_rate,
)

log = logging.getLogger(__name__)


class FalseNegativeMonitor(pl.Callback):
    """Logs false-negative measurements to every logger (W&B histograms where W&B is on).

    At every mining pass: the pass's own figures (``miner/ndcg@10``, ``mining/*``); the exact FN
    rate of the mined negatives against the hidden judgments (``fn/mined_rate``); duplicates of a
    positive mined as negatives (``fn/dup_of_positive_rate``: guaranteed false negatives); the
    teacher estimate (``fn/teacher_rate``: share of negatives the teacher scores at or above the
    positive), usable where no full judgments exist; the teacher's margins (negative − positive).
    Every epoch: the FN rate among in-batch negatives (``fn/inbatch_rate``), and how many mined
    negatives the *student* ranks above the positive, split by true and false negatives.

    Args:
        teacher: a scorer for the teacher estimate; ``None`` uses the miner's own scores.
        positive_reduce: how several positives give one reference score (min, max, mean).
        student_max_queries: training queries sampled for the student measurement (0: off).
        histograms: send margin histograms to W&B.
        seed: seeds the query sample.
    """

    def __init__(
        self,
        teacher: Any = None,
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
        self._logged_passes = 0
        self._inbatch = [0, 0]
        self.history: list[dict[str, float]] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = trainer.datamodule
        history = getattr(dm, "mining_history", [])
        for stats in history[self._logged_passes :]:
            self._log(trainer, {**stats, **self._mining_pass(dm)}, self._teacher_margins(dm))
        self._logged_passes = len(history)
        self._inbatch = [0, 0]

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: dict,
        batch_idx: int,
    ) -> None:
        train = trainer.datamodule.query_sets["train"]
        idx = batch["query_index"].tolist()
        fn, total = inbatch_false_negatives(
            batch["doc_ids"].cpu(),
            [train.judgments[i] for i in idx],
            [train.positives[i] for i in idx],
        )
        self._inbatch[0] += fn
        self._inbatch[1] += total

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = trainer.datamodule
        fn, total = self._inbatch
        stats = {
            "fn/inbatch_rate": fn / total if total else math.nan,
            "fn/epoch": trainer.current_epoch,
        }
        if dm.mining_history:
            stats["fn/mined_rate"] = dm.mining_history[-1].get("mining/fn_rate", math.nan)
        margins = None
        if self.student_max_queries:
            student, margins = self._student_view(dm, pl_module.encoder)
            stats.update(student)
        self._log(trainer, stats, margins, name="fn/student_margin")

    def _mining_pass(self, dm: Any) -> dict[str, float]:
        mined = dm.mined
        neg, pos = self._teacher_scores(dm)
        return {
            "fn/mined_rate": dm.mining_history[-1].get("mining/fn_rate", math.nan),
            "fn/dup_of_positive_rate": dm.mining_history[-1].get(
                "mining/dup_of_positive_rate", math.nan
            ),
            "fn/teacher_rate": teacher_false_negative_rate(neg, pos, self.positive_reduce),
            "fn/short_queries": float(mined.num_short),
        }

    def _teacher_scores(self, dm: Any) -> tuple[torch.Tensor, torch.Tensor]:
        mined = dm.mined
        if self.teacher is None:
            return mined.neg_scores, mined.pos_scores
        inp = dm.mining_input()
        neg = self.teacher.score(inp, mined.neg_ids).float()
        pos = self.teacher.score(inp, inp.positives_padded()).float()
        return torch.where(mined.neg_ids >= 0, neg, torch.nan), pos

    def _teacher_margins(self, dm: Any) -> torch.Tensor:
        neg, pos = self._teacher_scores(dm)
        return score_margins(neg, pos, self.positive_reduce)

    @torch.no_grad()
    def _student_view(self, dm: Any, encoder: Any) -> tuple[dict[str, float], torch.Tensor]:
        """Student scores of (query, positive) vs (query, mined negative) on a query sample."""
        train, mined = dm.query_sets["train"], dm.mined
        g = torch.Generator().manual_seed(self.seed)
        sample = torch.randperm(len(train), generator=g)[: self.student_max_queries].tolist()
        neg_ids = mined.neg_ids[sample]  # [S, N]
        pos_ids = torch.as_tensor([train.positives[i][0] for i in sample])  # [S]
        docs = sorted({*pos_ids.tolist(), *neg_ids[neg_ids >= 0].tolist()})
        where = {d: k for k, d in enumerate(docs)}
        texts = dm.collection.doc_texts
        d_emb = encoder.encode([texts[d] for d in docs], batch_size=128)
        q_emb = encoder.encode(
            [train.query_texts[i] for i in sample], batch_size=128, is_query=True
        )
        pos = (q_emb * d_emb[[where[d] for d in pos_ids.tolist()]]).sum(-1)  # [S]
        neg_rows = neg_ids.clamp(min=0).apply_(lambda d: where.get(d, 0))
        neg = torch.einsum("sd,snd->sn", q_emb, d_emb[neg_rows])
        neg = torch.where(neg_ids >= 0, neg, torch.nan)
        grade = relevance_of(neg_ids, [train.judgments[i] for i in sample])
        above = neg > pos.unsqueeze(1)
        valid = neg_ids >= 0
        return {
            "fn/student_above_pos": _share(above, valid),
            "fn/student_above_pos_fn": _share(above, valid & (grade > 0)),
            "fn/student_above_pos_tn": _share(above, valid & (grade == 0)),
            "fn/student_margin_mean": float(torch.nanmean(neg - pos.unsqueeze(1))),
        }, (neg - pos.unsqueeze(1))[valid]

    def _log(
        self,
        trainer: pl.Trainer,
        stats: dict[str, Any],
        margins: torch.Tensor | None,
        name: str = "fn/teacher_margin",
    ) -> None:
        numeric = {
            k: float(v)
            for k, v in stats.items()
            if isinstance(v, (int, float)) and math.isfinite(float(v))
        }
        if margins is not None and margins.numel():
            q = torch.quantile(margins.float(), torch.tensor([0.1, 0.5, 0.9]))
            numeric.update(
                {f"{name}_p10": float(q[0]), f"{name}_p50": float(q[1]), f"{name}_p90": float(q[2])}
            )
        self.history.append(numeric)
        for logger in trainer.loggers:
            logger.log_metrics(numeric, step=trainer.global_step)
            if self.histograms and margins is not None and margins.numel():
                _wandb_histogram(logger, name, margins, trainer.global_step)


def _share(hit: torch.Tensor, among: torch.Tensor) -> float:
    n = int(among.sum())
    return float((hit & among).sum()) / n if n else math.nan


def _wandb_histogram(logger: Any, name: str, values: torch.Tensor, step: int) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not isinstance(logger, WandbLogger):
        return
    import wandb

    logger.experiment.log(
        {name: wandb.Histogram(values.float().numpy()), "trainer/global_step": step}
    )
