"""The LightningDataModule: mining passes, training examples and evaluation batches.

It calls a miner, never contains mining rules, and publishes each pass as an immutable
:class:`~zelo.types.MiningPass`: it hands the pass to the subscribers it is given (the loss's
teacher, the guard, the checkpoint, the false-negative monitor). Mining is a step of the epoch
that the run calls (:class:`~zelo.callbacks.run_state.EpochMining`); building the train loader
only serves the latest pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import lightning.pytorch as pl
from torch.utils.data import DataLoader

from zelo.data.batches import EpochShuffleSampler, EvalCollator, TrainCollator, TrainExamples
from zelo.data.teacher import TeacherScores
from zelo.keys import FN_RATE, MINER_NDCG, MINING_EPOCH, MINING_SECONDS
from zelo.mining.base import Miner
from zelo.mining.measured import mine_and_measure
from zelo.run.resumable import ResumableDataLoader
from zelo.types import Collection, MiningInput, MiningPass, MiningSubscriber, QuerySet, Scorer

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder

log = logging.getLogger(__name__)


class RetrievalDataModule(pl.LightningDataModule):
    """Runs the miner on the training queries and serves batches.

    Args:
        collection: the loaded collection (corpus texts, duplicate groups).
        query_sets: ``train``/``dev``/``test`` (see :func:`zelo.data.splits.build_query_sets`).
        miner: the hard-negative miner (``None``: evaluation only).
        student: the student encoder: its tokenizer for every batch, and the encoder that
            self-mining scorers read.
        teacher: the losses' teacher (``None``: the loss takes none). When it is the miner's
            own scorer, each pass's mined scores are reused.
        reference: the scorer that measures how hard the mined negatives are
            (``mining/tn_hardness``), the same for every miner; ``None``: not measured.
        batch_size: training queries per step (per process under DDP).
        num_negatives: N mined negatives per query.
        examples_per_query: training examples per query and epoch, each with one of its labelled
            positives, rotating through them across epochs; ``None``: one example per (query,
            labelled positive), so a query with k labelled positives trains k times an epoch.
            Set it to compare annotation completeness levels at one training budget.
        mine_every_n_epochs: re-mine every k epochs (0: the miner's own period, else once).
        seed: seeds the miner (plus the epoch) and the example order.
        num_workers: DataLoader workers.
        eval_batch_size: queries per evaluation batch.
        subscribers: each is handed every mining pass as it is published (more can
            :meth:`subscribe`).
    """

    def __init__(
        self,
        collection: Collection,
        query_sets: dict[str, QuerySet],
        miner: Miner | None,
        student: Encoder,
        teacher: Scorer | None = None,
        reference: Scorer | None = None,
        batch_size: int = 32,
        num_negatives: int = 3,
        examples_per_query: int | None = None,
        mine_every_n_epochs: int = 0,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 256,
        subscribers: Sequence[MiningSubscriber] = (),
    ) -> None:
        super().__init__()
        if num_negatives < 0:
            raise ValueError(f"data.num_negatives must be >= 0, got {num_negatives}")
        if examples_per_query is not None and examples_per_query < 1:
            raise ValueError(
                f"data.examples_per_query must be >= 1 or null, got {examples_per_query}"
            )
        # the data, the scorers of each pass, then the training batches' shape
        self.collection, self.query_sets = collection, query_sets
        self.miner, self.student, self.teacher, self.reference = miner, student, teacher, reference
        self.batch_size, self.num_negatives = batch_size, num_negatives
        self.examples_per_query = examples_per_query
        own = miner.mine_every_n_epochs if miner is not None else 0
        self.remine_every_n_epochs = int(mine_every_n_epochs or own)
        self.seed = seed
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size
        self.passes: list[MiningPass] = []
        self.subscribers: list[MiningSubscriber] = list(subscribers)

    def subscribe(self, subscriber: MiningSubscriber) -> None:
        """Hand ``subscriber`` every later mining pass."""
        self.subscribers.append(subscriber)

    @property
    def latest_pass(self) -> MiningPass | None:
        """The last mining pass (``None`` before the first)."""
        return self.passes[-1] if self.passes else None

    def mining_input(self, epoch: int = 0) -> MiningInput:
        """What a miner sees of the training split at ``epoch``."""
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

    def mine(self, epoch: int = 0) -> MiningPass:
        """Run the miner on the training queries, measure the pass, and publish it to every
        subscriber."""
        if self.miner is None:
            raise ValueError("this DataModule has no miner: it serves evaluation batches only")
        inp = self.mining_input(epoch)
        mined, stats = mine_and_measure(self.miner, inp, self.reference, self.duplicate_groups())
        stats[MINING_EPOCH] = float(epoch)
        teacher = None
        if self.teacher is not None:
            own = self.teacher is self.miner.scorer
            teacher = TeacherScores(self.teacher, inp, mined if own else None)
        self.passes.append(MiningPass(epoch, inp, mined, stats, teacher))
        log.info(
            "mining pass (epoch %d, %s): %s %.4f, %s %.4f, dropped %s, %d queries short, %.1f s",
            epoch,
            self.miner.name,
            MINER_NDCG,
            stats[MINER_NDCG],
            FN_RATE,
            stats[FN_RATE],
            mined.dropped,
            mined.num_short,
            stats[MINING_SECONDS],
        )
        for subscriber in self.subscribers:
            subscriber.on_mining_pass(self.passes[-1])
        return self.passes[-1]

    def duplicate_groups(self) -> list[list[int]] | None:
        """Groups of doc indices with identical text (``None`` when the loader found none)."""
        idx = self.collection.doc_index
        groups = self.collection.info.get("duplicate_doc_groups", [])
        return [[idx[d] for d in g] for g in groups] or None

    def scheduled_pass(self, epoch: int) -> int:
        """The epoch of the pass that ``epoch`` trains on (0 when mining once)."""
        k = self.remine_every_n_epochs
        return epoch - epoch % k if k else 0

    def train_dataloader(self) -> DataLoader:
        """The latest mining pass's training examples.

        Raises:
            ValueError: no pass has been mined yet (call :meth:`mine` first).
        """
        if not self.passes:
            raise ValueError(
                "no mining pass yet: the run mines before it trains (RetrievalDataModule.mine)"
            )
        mining_pass = self.passes[-1]
        train = self.query_sets["train"]
        examples = TrainExamples(train, mining_pass.mined)
        sampler = EpochShuffleSampler(
            len(examples), self.seed, examples.groups, self.examples_per_query
        )
        return ResumableDataLoader(
            examples,
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=TrainCollator(
                self.student, train, self.collection.doc_texts, mining_pass.teacher
            ),
            num_workers=self.num_workers,
            drop_last=len(sampler) > self.batch_size,  # no 1-query tail batch
        )

    def _eval_loader(self, split: str) -> DataLoader:
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
