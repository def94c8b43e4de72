"""The LightningDataModule: annotation view, mining passes, training examples, eval batches.

It calls a miner; it never contains mining rules.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from zelo.data.batches import EpochShuffleSampler, EvalCollator, TrainCollator, TrainExamples
from zelo.data.splits import build_query_set
from zelo.data.teacher import TeacherScores
from zelo.data.types import Collection, QuerySet
from zelo.eval.measure import mining_stats
from zelo.mining.base import MinedNegatives, Miner, MiningInput, Scorer
from zelo.run.resumable import ResumableDataLoader

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder

log = logging.getLogger(__name__)

DEV_METRIC = "val/ndcg@10"  # what an adaptive miner is told; never a test metric


def dev_metric(metrics: dict) -> float | None:
    """The dev nDCG@10 in a trainer's ``callback_metrics``: after an epoch, else zero-shot."""
    for key in (DEV_METRIC, f"{DEV_METRIC}_before"):
        if key in metrics:
            return float(metrics[key])
    return None


class RetrievalDataModule(pl.LightningDataModule):
    """Builds the train/dev/test query sets, runs the miner and serves batches.

    Args:
        collection: the loaded collection.
        splits: ``train``/``dev``/``test`` qrels (see :func:`zelo.data.splits.resolve_splits`).
        miner: the hard-negative miner.
        batch_size: training queries per step (per process under DDP).
        num_negatives: N mined negatives per query.
        keep_positives: labelled positives kept per training query; the rest become hidden
            judgments for the false-negative monitor (``None`` keeps all).
        annotation_strategy: which positives are kept: ``best`` (highest grade) or ``random``.
        mine_every_n_epochs: re-mine every k epochs (0: mine once, before training).
        seed: seeds the annotation view, the miner and the example order.
        num_workers: DataLoader workers.
        eval_batch_size: queries per evaluation batch.
        max_train_queries: use only the first n training queries (quick runs); ``None``: all.
        max_eval_queries: likewise for dev and test.
    """

    def __init__(
        self,
        collection: Collection,
        splits: dict[str, dict[str, dict[str, int]]],
        miner: Miner,
        batch_size: int = 32,
        num_negatives: int = 3,
        keep_positives: int | None = 1,
        annotation_strategy: str = "best",
        mine_every_n_epochs: int = 0,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 256,
        max_train_queries: int | None = None,
        max_eval_queries: int | None = None,
    ) -> None:
        super().__init__()
        if num_negatives < 0:
            raise ValueError(f"data.num_negatives must be >= 0, got {num_negatives}")
        self.collection = collection
        self.splits = splits
        self.miner = miner
        self.batch_size = batch_size
        self.num_negatives = num_negatives
        self.keep_positives = keep_positives
        self.annotation_strategy = annotation_strategy
        self.mine_every_n_epochs = mine_every_n_epochs
        self.seed = seed
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size
        self.max_train_queries = max_train_queries
        self.max_eval_queries = max_eval_queries
        self.student: Encoder | None = None
        self.query_sets: dict[str, QuerySet] = {}
        self.mined: MinedNegatives | None = None
        self.mining_history: list[dict[str, float]] = []
        self._mined_epoch: int | None = None
        self.teacher: Scorer | None = None  # losses' teacher; None: the miner's scorer
        self._mining_input: MiningInput | None = None
        self._teacher_scores: TeacherScores | None = None
        self._last_dev: float | None = None  # latest dev nDCG@10, for a miner with feedback()
        self._build_query_sets()

    def _build_query_sets(self) -> None:
        limits = {
            "train": self.max_train_queries,
            "dev": self.max_eval_queries,
            "test": self.max_eval_queries,
        }
        for split, qrels in self.splits.items():
            keep = self.keep_positives if split == "train" else None
            qs = build_query_set(
                self.collection,
                qrels,
                keep_positives=keep,
                strategy=self.annotation_strategy,
                seed=self.seed,
            )
            if limits.get(split) is not None:
                qs = _head(qs, int(limits[split]))
            if len(qs) == 0:
                raise ValueError(f"split {split!r} of {self.collection.name} has no judged queries")
            self.query_sets[split] = qs
        log.info(
            "%s: %d docs; queries train %d / dev %d / test %d; %d labelled and %d hidden "
            "positives in train",
            self.collection.name,
            len(self.collection.doc_texts),
            *(len(self.query_sets[s]) for s in ("train", "dev", "test")),
            sum(len(p) for p in self.query_sets["train"].positives),
            sum(len(h) for h in self.query_sets["train"].hidden),
        )

    def attach_student(self, encoder: Encoder) -> None:
        """Give the DataModule the student: its tokenizer, and the encoder self-mining uses."""
        self.student = encoder

    @property
    def duplicates(self) -> list[list[int]]:
        idx = self.collection.doc_index
        groups = self.collection.info.get("duplicate_doc_groups", [])
        return [[idx[d] for d in g] for g in groups]

    def mining_input(self, epoch: int = 0) -> MiningInput:
        """What a miner (or a teacher) sees of the training split."""
        train = self.query_sets["train"]
        return MiningInput(
            query_texts=train.query_texts,
            doc_texts=self.collection.doc_texts,
            positives=train.positives,
            num_negatives=self.num_negatives,
            seed=self.seed + epoch,
            judgments=train.judgments,
            student=self.student,
        )

    def mine(self, epoch: int = 0) -> dict[str, float]:
        """Run the miner on the training queries and measure the pass."""
        train = self.query_sets["train"]
        inp = self.mining_input(epoch)
        start = time.perf_counter()
        self.mined = self.miner.mine(inp)
        seconds = time.perf_counter() - start
        self._mining_input, self._teacher_scores = inp, None
        stats = mining_stats(
            self.mined, train.judgments, train.positives, duplicates=self.duplicates or None
        )
        stats["mining/seconds"] = seconds
        stats["mining/epoch"] = float(epoch)
        stats.update({f"mining/{k}": float(v) for k, v in self.mined.info.items()})
        self.mining_history.append(stats)
        self._mined_epoch = epoch
        log.info(
            "mining pass (epoch %d, %s): miner/ndcg@10 %.4f, fn_rate %.4f, dropped %s, "
            "%d queries short, %.1f s",
            epoch,
            type(self.miner).__name__,
            stats.get("miner/ndcg@10", float("nan")),
            stats.get("mining/fn_rate", float("nan")),
            self.mined.dropped,
            self.mined.num_short,
            seconds,
        )
        return stats

    @property
    def teacher_scorer(self) -> Scorer | None:
        """The losses' teacher: ``self.teacher``, else the miner's scorer (``None``: neither)."""
        return self.teacher or getattr(self.miner, "scorer", None)

    def teacher_scores(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        """The teacher's scores of candidates for training queries (losses with a teacher).

        The teacher is ``self.teacher``, else the miner's scorer, as of the last mining pass
        (:class:`zelo.data.teacher.TeacherScores`).

        Args:
            query_index: ``[B]`` positions in the train QuerySet (``batch["query_index"]``).
            cand_ids: ``[C]`` doc ids shared by the batch, or ``[B, K]`` per query; -1 padded.

        Returns:
            ``[B, C]`` (or ``[B, K]``) float32 on CPU, NaN where an id is -1.
        """
        if self._mining_input is None:
            raise RuntimeError("teacher_scores needs a mining pass first")
        if self._teacher_scores is None:
            scorer = self.teacher_scorer
            mined = self.mined if self.teacher is None else None
            self._teacher_scores = TeacherScores(scorer, self._mining_input, mined)
        return self._teacher_scores(query_index, cand_ids)

    @property
    def remine_every_n_epochs(self) -> int:
        """Mining period in epochs (0: once): ``data.mine_every_n_epochs`` or the miner's own."""
        return int(self.mine_every_n_epochs or getattr(self.miner, "mine_every_n_epochs", 0) or 0)

    def _mining_due(self, epoch: int) -> bool:
        if self.mined is None:
            return True
        k = self.remine_every_n_epochs
        return bool(k) and epoch % k == 0 and epoch != self._mined_epoch

    def train_dataloader(self) -> DataLoader:
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        if self._mining_due(epoch):
            self._feed_dev_metric(epoch)
            # a resumed run redoes the pass that was scheduled, with that pass's seed (a run that
            # mines once mined at epoch 0)
            k = self.remine_every_n_epochs
            self.mine(epoch if self.mined is not None else epoch - epoch % k if k else 0)
        self._require_student()
        train = self.query_sets["train"]
        examples = TrainExamples(train, self.mined)
        return ResumableDataLoader(
            examples,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(examples), self.seed),
            collate_fn=TrainCollator(self.student, train, self.collection.doc_texts),
            num_workers=self.num_workers,
            drop_last=len(examples) > self.batch_size,  # no 1-query tail batch
        )

    def teardown(self, stage: str) -> None:
        if stage == "validate" and self.trainer is not None:  # the zero-shot dev pass
            self._last_dev = dev_metric(self.trainer.callback_metrics)

    def state_dict(self) -> dict:
        """Saved in training checkpoints: a stateful miner's state and the latest dev nDCG@10."""
        save = getattr(self.miner, "state_dict", None)
        if save is None:
            return {}
        return {"miner": save(), "last_dev": self._latest_dev()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved (when resuming from a checkpoint)."""
        load = getattr(self.miner, "load_state_dict", None)
        if "miner" in state and load is not None:
            load(state["miner"])
            log.info("resumed %s's state: %s", type(self.miner).__name__, state["miner"])
        if state.get("last_dev") is not None:
            self._last_dev = float(state["last_dev"])

    def _latest_dev(self) -> float | None:
        """The dev nDCG@10 the trainer measured last, else the one remembered."""
        fresh = dev_metric(self.trainer.callback_metrics) if self.trainer is not None else None
        return self._last_dev if fresh is None else fresh

    def _feed_dev_metric(self, epoch: int) -> None:
        """Hand a miner with ``feedback(epoch, value)`` the latest dev nDCG@10 before it mines."""
        feedback = getattr(self.miner, "feedback", None)
        if feedback is None:
            return
        if self.trainer is not None:
            if self.trainer.check_val_every_n_epoch != 1:
                log.warning("%s expects validation every epoch", type(self.miner).__name__)
            self._last_dev = self._latest_dev()
        if self._last_dev is not None:
            feedback(epoch, self._last_dev)

    def _eval_loader(self, split: str) -> DataLoader:
        self._require_student()
        qs = self.query_sets[split]
        return DataLoader(
            list(range(len(qs))),
            batch_size=self.eval_batch_size,
            shuffle=False,
            collate_fn=EvalCollator(self.student, qs),
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("dev")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def _require_student(self) -> None:
        if self.student is None:
            raise RuntimeError("call attach_student(encoder) before asking for dataloaders")


def _head(qs: QuerySet, n: int) -> QuerySet:
    return QuerySet(
        query_ids=qs.query_ids[:n],
        query_texts=qs.query_texts[:n],
        judgments=qs.judgments[:n],
        positives=qs.positives[:n],
        hidden=qs.hidden[:n],
    )
