"""Training examples, the epoch-seeded sampler, and the collators that tokenise batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset, Sampler

from zelo.types import MinedNegatives, QuerySet, Teacher
from zelo.utils.tensors import pad_rows

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder


class TrainExamples(Dataset):
    """One example per (training query, labelled positive): query, positive, N mined negatives."""

    def __init__(self, queries: QuerySet, mined: MinedNegatives) -> None:
        self.queries = queries
        self.mined = mined
        self.pairs = [(qi, p) for qi, ps in enumerate(queries.positives) for p in ps]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        qi, pos = self.pairs[i]
        return {"query": qi, "doc_ids": [pos, *self.mined.neg_ids[qi].tolist()]}


class EpochShuffleSampler(Sampler[int]):
    """A permutation that depends only on (seed, epoch): resuming mid-run gives the same order.

    Lightning calls ``set_epoch`` on it every epoch (under DDP it uses its own seeded
    DistributedSampler instead).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


class TrainCollator:
    """Tokenises a batch of training examples with the student's tokenizer.

    Args:
        encoder: the student (its tokenizer and length limits).
        queries: the train query set.
        doc_texts: the corpus.
        teacher: the mining pass's teacher; when given, each batch carries
            ``teacher_scores [B, 1+N]``, the teacher's scores of each query's own candidates.
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
