"""Plain containers shared by loaders, miners, the DataModule and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

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
