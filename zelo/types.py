"""Plain containers shared by loaders, miners, the DataModule, the losses and evaluation.

Only :mod:`zelo.utils` is imported here at run time, so every layer can import this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import torch

from zelo.utils.tensors import pad_rows

Qrels = dict[str, dict[str, int]]
"""query id -> {document id: graded relevance > 0}."""


@dataclass
class Collection:
    """A retrieval collection in memory (BEIR semantics, string ids).

    Attributes:
        name: short name used in logs and run names.
        doc_ids: corpus ids in file order.
        doc_texts: one text per document: ``title + " " + text`` (stripped), as BEIR and MTEB do.
        query_ids: query ids in file order.
        query_texts: one text per query.
        qrels: split name -> Qrels, exactly as judged (grades > 0 only).
        info: loader facts worth logging (duplicate document groups, empty documents, the
            seeded split that was drawn, ...). JSON-serialisable.
    """

    name: str
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, Qrels]
    info: dict = field(default_factory=dict)

    @cached_property
    def doc_index(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.doc_ids)}

    @cached_property
    def query_index(self) -> dict[str, int]:
        return {q: i for i, q in enumerate(self.query_ids)}


@dataclass
class QuerySet:
    """One split of queries, in corpus-index form, with the annotation view applied.

    Attributes:
        query_ids: query ids of this split (order fixed, sorted for determinism).
        query_texts: their texts.
        judgments: full graded judgments per query: doc index -> grade (> 0). Evaluation and
            every false-negative measurement use these.
        positives: labelled positives visible to training, per query, doc indices, best first.
            For dev/test this is every judged document.
        hidden: judged-relevant documents hidden from training (judgments minus positives).
    """

    query_ids: list[str]
    query_texts: list[str]
    judgments: list[dict[int, int]]
    positives: list[list[int]]
    hidden: list[dict[int, int]]

    def __len__(self) -> int:
        return len(self.query_ids)

    def head(self, n: int) -> QuerySet:
        """The first ``n`` queries."""
        return QuerySet(
            self.query_ids[:n],
            self.query_texts[:n],
            self.judgments[:n],
            self.positives[:n],
            self.hidden[:n],
        )


class TextEncoder(Protocol):
    """What scorers and the embedding cache need of an encoder
    (:class:`zelo.models.encoders.Encoder`)."""

    @property
    def dim(self) -> int: ...

    @property
    def label(self) -> str: ...

    def describe(self) -> dict: ...

    def fingerprint(self) -> str: ...

    def encode(
        self, texts: list[str], batch_size: int = 64, is_query: bool = False, progress: Any = None
    ) -> torch.Tensor: ...


@dataclass
class MiningInput:
    """Everything a miner may look at.

    Attributes:
        query_texts: training queries.
        doc_texts: the whole corpus.
        positives: labelled positives per query (doc indices); never returned as negatives.
        num_negatives: N, negatives wanted per query.
        seed: seeds every random choice; the same seed gives the same negatives.
        judgments: full graded judgments per query (doc index -> grade), read only by scorers
            and rules that are *meant* to know them (the oracle, the dial's top segment, the
            simulated LLM judges, the FN-free control) and to measure the miner; ``None`` when
            the collection has none beyond the positives.
        student: the student encoder at mining time (for self-mining scorers); may be ``None``.
    """

    query_texts: list[str]
    doc_texts: list[str]
    positives: list[list[int]]
    num_negatives: int
    seed: int = 0
    judgments: list[dict[int, int]] | None = None
    student: TextEncoder | None = None

    def __post_init__(self) -> None:
        if len(self.positives) != len(self.query_texts):
            raise ValueError(
                f"positives has {len(self.positives)} rows for {len(self.query_texts)} queries"
            )

    def positives_padded(self) -> torch.Tensor:
        """Labelled positives as a ``[Q, P]`` long tensor, ``-1`` padded (P >= 1)."""
        return pad_rows(self.positives)


@dataclass
class MinedNegatives:
    """A miner's result.

    Attributes:
        neg_ids: ``[Q, N]`` doc indices of the selected negatives, ``-1`` where a row ran short.
        neg_scores: ``[Q, N]`` the scorer's scores of those negatives (NaN where ``-1``).
        pos_scores: ``[Q, P]`` the scorer's scores of the labelled positives (NaN padded).
        ranking: ``[Q, K]`` the scorer's own top-K ranking of the corpus for each query
            (positives included, ``-1`` padded): used to measure the miner's intelligence.
        ranking_scores: ``[Q, K]`` the scores that go with ``ranking``.
        dropped: candidates each rule removed, by rule name (summed over queries).
        info: figures the miner reports (e.g. the hardness an adaptive miner chose).
    """

    neg_ids: torch.Tensor
    neg_scores: torch.Tensor
    pos_scores: torch.Tensor
    ranking: torch.Tensor
    ranking_scores: torch.Tensor
    dropped: dict[str, int] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    @property
    def num_short(self) -> int:
        """Queries left with fewer than N negatives."""
        return int((self.neg_ids < 0).any(dim=1).sum())


class Teacher(Protocol):
    """A teacher's scores for training queries, as of one mining pass
    (:class:`zelo.data.teacher.TeacherScores`)."""

    softmax_temperature: float  # in the teacher's score units (see :class:`Scorer`)

    def __call__(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        """``(query_index [B], cand_ids [C] or [B, K]) -> [B, C] or [B, K]`` float32, NaN where
        an id is -1."""
        ...


class BatchTeacher(Protocol):
    """The teacher as a training batch carries it (``batch["teacher"]``): scores of any candidate
    columns for the batch's own queries, as of the current mining pass."""

    softmax_temperature: float  # in the teacher's score units (see :class:`Scorer`)

    def __call__(self, cand_ids: torch.Tensor) -> torch.Tensor:
        """``cand_ids [C]`` (every rank's candidates) -> ``[B, C]`` float32, NaN where an id is
        -1."""
        ...


@dataclass(frozen=True)
class MiningPass:
    """One mining pass, published by the DataModule and read by every later stage.

    The DataModule hands it to its subscribers (:class:`MiningSubscriber`) as it is mined and
    serves its ``teacher`` in the training batches; the false-negative monitor reads ``input``,
    ``mined`` and ``stats``; ``metrics.json`` takes ``stats`` of the first and the last pass.

    Attributes:
        epoch: the epoch the pass was mined for.
        input: what the miner saw.
        mined: what it returned.
        stats: ``miner/ndcg@10``, ``mining/*`` figures of the pass.
        teacher: the losses' teacher scores as of this pass (``None``: the loss takes none).
    """

    epoch: int
    input: MiningInput
    mined: MinedNegatives
    stats: dict[str, float]
    teacher: Teacher | None = None


@runtime_checkable
class MiningSubscriber(Protocol):
    """What the DataModule hands each :class:`MiningPass` to as it is published (the guard, the
    checkpoint, the false-negative monitor): the pass comes as an argument, never fetched."""

    def on_mining_pass(self, mining_pass: MiningPass) -> None:
        """Take the pass just mined."""
        ...


@dataclass(frozen=True)
class CandidateSet:
    """A scorer's top-K candidates per query, as the rules and the sampler see them.

    Attributes:
        ids: ``[Q, K]`` doc ids in rank order, ``-1`` padded.
        scores: ``[Q, K]`` the scorer's scores (``-inf`` at padding).
        pos_scores: ``[Q, P]`` the scorer's scores of the labelled positives (NaN padded).
        keep: ``[Q, K]`` bool, candidates still in play (padding and earlier rules removed).
        positives: ``[Q, P]`` the labelled positives, ``-1`` padded.
        judgments: the full judgments, for controls only (``None`` when there are none).
    """

    ids: torch.Tensor
    scores: torch.Tensor
    pos_scores: torch.Tensor
    keep: torch.Tensor
    positives: torch.Tensor
    judgments: list[dict[int, int]] | None = None


class Scorer(Protocol):
    """Judges relevance of documents to queries.

    ``softmax_temperature`` is the temperature, in the scorer's own units, that turns its scores
    over a query's candidates into a distribution (cosine 0.05; Elo 400 / ln 10, which gives
    Bradley–Terry odds; logits 1). Distillation uses it when ``loss.teacher_temperature`` is
    ``null``. ``reads_judgments`` is True for a scorer that looks at the full judgments (the
    oracle, simulated judges): its miner is a control or an upper bound, never a method.
    """

    name: str
    softmax_temperature: float
    reads_judgments: bool

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query, best first.

        Returns:
            ids ``[Q, K]`` long (``-1`` padded) and scores ``[Q, K]`` float (``-inf`` padded).
        """
        ...

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Scores of given documents: ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN pad)."""
        ...

    def report(self) -> dict[str, float]:
        """Figures of the last ranking worth logging (logged as ``mining/<key>``)."""
        ...
