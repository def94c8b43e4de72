"""Training examples, the epoch-seeded sampler, and the collators that tokenise batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset, Sampler

from zelo.data.teacher import BatchTeacherScores
from zelo.types import MinedNegatives, QuerySet, Teacher
from zelo.utils.tensors import pad_rows

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder


class TrainExamples(Dataset):
    """One example per (training query, labelled positive): query, positive, N mined negatives.

    ``groups`` lists each query's examples (in its positives' order), for
    :class:`EpochShuffleSampler` to draw a fixed number per query and epoch.
    """

    def __init__(self, queries: QuerySet, mined: MinedNegatives) -> None:
        self.queries = queries
        self.mined = mined
        self.pairs = [(qi, p) for qi, ps in enumerate(queries.positives) for p in ps]
        self.groups: list[list[int]] = []
        start = 0
        for ps in queries.positives:
            self.groups.append(list(range(start, start + len(ps))))
            start += len(ps)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        qi, pos = self.pairs[i]
        return {"query": qi, "doc_ids": [pos, *self.mined.neg_ids[qi].tolist()]}


def epoch_selection(
    groups: list[list[int]], per_group: int | None, seed: int, epoch: int
) -> list[int]:
    """The examples one epoch trains on: ``per_group`` of each query's, cycling across epochs.

    Each query starts at a seeded offset into its examples and moves on by ``per_group`` every
    epoch, so over epochs every labelled positive comes round in turn (as Tevatron's train
    groups rotate their positives). A query with no more than ``per_group`` examples gives all.

    Args:
        groups: each query's example indices.
        per_group: examples per query and epoch; ``None``: every example.
        seed: seeds the offsets (fixed across epochs).
        epoch: the epoch.

    Returns:
        Example indices, grouped by query (the sampler shuffles them).
    """
    if per_group is None or all(len(g) <= per_group for g in groups):
        return [i for g in groups for i in g]
    g = torch.Generator().manual_seed(seed * 100_003 + 7)
    offsets = torch.randint(0, 2**31 - 1, (len(groups),), generator=g).tolist()
    out = []
    for group, offset in zip(groups, offsets, strict=True):
        if len(group) <= per_group:
            out += group
            continue
        start = offset + epoch * per_group
        out += [group[(start + j) % len(group)] for j in range(per_group)]
    return out


class EpochShuffleSampler(Sampler[int]):
    """A permutation that depends only on (seed, epoch): resuming mid-run gives the same order.

    Lightning calls ``set_epoch`` on it every epoch (under DDP through its sampler wrapper).

    Args:
        n: examples in the dataset.
        seed: seeds the order (and the draw of ``per_group``).
        groups: each query's example indices; with ``per_group``, an epoch takes that many of
            each query's (:func:`epoch_selection`), so the number of examples, and the steps of
            an epoch, do not depend on how many positives each query has labelled.
        per_group: examples per query and epoch (``data.examples_per_query``); ``None``: all.
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        groups: list[list[int]] | None = None,
        per_group: int | None = None,
    ) -> None:
        if per_group is not None and per_group < 1:
            raise ValueError(f"data.examples_per_query must be >= 1 or null, got {per_group}")
        self.n = n
        self.seed = seed
        self.groups = groups if groups is not None else [[i] for i in range(n)]
        self.per_group = per_group
        self.epoch = 0
        self._len = len(epoch_selection(self.groups, per_group, seed, 0))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        chosen = epoch_selection(self.groups, self.per_group, self.seed, self.epoch)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter([chosen[i] for i in torch.randperm(len(chosen), generator=g).tolist()])


class TrainCollator:
    """Tokenises a batch of training examples with the student's tokenizer.

    Args:
        encoder: the student (its tokenizer and length limits).
        queries: the train query set.
        doc_texts: the corpus.
        teacher: the mining pass's teacher; when given, each batch carries
            ``teacher_scores [B, 1+N]``, the teacher's scores of each query's own candidates,
            and ``teacher``, the teacher of its queries for any other candidate columns
            (:class:`~zelo.data.teacher.BatchTeacherScores`).
    """

    def __init__(
        self,
        encoder: Encoder,
        queries: QuerySet,
        doc_texts: list[str],
        teacher: Teacher | None = None,
    ) -> None:
        self.encoder = encoder
        self.queries = queries
        self.doc_texts = doc_texts
        self.teacher = teacher
        self.pos_sets = pad_rows(queries.positives)  # [Q, P]

    def __call__(self, examples: list[dict]) -> dict:
        qidx = torch.as_tensor([e["query"] for e in examples])
        doc_ids = torch.as_tensor([e["doc_ids"] for e in examples], dtype=torch.long)  # [B, 1+N]
        texts = [self.doc_texts[d] if d >= 0 else "" for d in doc_ids.flatten().tolist()]
        batch = {
            "query": self.encoder.tokenize_side(
                [self.queries.query_texts[i] for i in qidx.tolist()], is_query=True
            ),
            "docs": self.encoder.tokenize_side(texts, is_query=False),
            "doc_ids": doc_ids,
            "pos_sets": self.pos_sets[qidx],
            "query_index": qidx,
        }
        if self.teacher is not None:
            batch["teacher_scores"] = self.teacher(qidx, doc_ids)  # [B, 1+N]
            batch["teacher"] = BatchTeacherScores(self.teacher, qidx)
        return batch


class EvalCollator:
    """Tokenises a batch of evaluation queries; the batch carries their full judgments."""

    def __init__(self, encoder: Encoder, queries: QuerySet) -> None:
        self.encoder = encoder
        self.queries = queries

    def __call__(self, idx: list[int]) -> dict:
        texts = [self.queries.query_texts[i] for i in idx]
        return {
            "query": self.encoder.tokenize_side(texts, is_query=True),
            "query_index": torch.as_tensor(idx, dtype=torch.long),
            "judgments": [self.queries.judgments[i] for i in idx],
        }
