"""A Hugging Face ``datasets`` dataset of (anchor, positive) pairs as a zelo collection.

The same input sentence-transformers' ``mine_hard_negatives`` takes: the anchor and positive
columns (default: the first two), and an optional separate corpus of candidate documents. As
there, repeated anchors are one query with several positives, and the corpus is the separate corpus
plus every positive, de-duplicated by text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zelo.data.beir import DataError
from zelo.types import Collection
from zelo.utils.datasets_io import load_local

log = logging.getLogger(__name__)

PAIRS_SPLIT = "train"
"""The qrels split the pairs become (every pair is a relevant (query, document) judgment)."""


def load_pairs_dataset(path: str | Path) -> Any:
    """The pairs dataset at ``path`` (see :func:`zelo.utils.datasets_io.load_local`).

    Raises:
        DataError: the path does not exist, holds a ``DatasetDict``, or has an unknown suffix.
    """
    return load_local(path, DataError, str(path), "reading a pairs dataset")


def text_column(ds: Any, name: str | None, position: int, path: str | Path, key: str) -> str:
    """The column ``name`` (``None``: the one at ``position``), checked to exist and hold text."""
    columns = list(ds.column_names)
    if name is None:
        if len(columns) <= position:
            raise DataError(f"{path}: needs at least {position + 1} columns, has {columns}")
        name = columns[position]
    if name not in columns:
        raise DataError(f"{path}: no column {name!r} ({key}); columns: {columns}")
    if ds.features[name].dtype not in ("string", "large_string"):
        raise DataError(f"{path}: column {name!r} ({key}) holds {ds.features[name]}, not text")
    return name


def load_pairs(
    path: str,
    corpus: str | None = None,
    anchor_column: str | None = None,
    positive_column: str | None = None,
    corpus_column: str | None = None,
    name: str = "pairs",
) -> Collection:
    """Read (anchor, positive) pairs (and an optional corpus) into a :class:`Collection`.

    Args:
        path: the pairs dataset (see :func:`load_pairs_dataset`).
        corpus: an optional dataset of extra candidate documents.
        anchor_column: the anchor (query) column; ``None``: the first column.
        positive_column: the positive column; ``None``: the second column.
        corpus_column: the corpus's text column; ``None``: its first column.
        name: the collection's name in logs and runs.

    Returns:
        Queries ``q<i>`` in first-seen order, documents ``d<i>`` (corpus first, then positives),
        and one qrels split ``train`` with grade 1 per pair. ``info["columns"]`` keeps the
        anchor and positive column names for the mined output.
    """
    ds = load_pairs_dataset(path)
    anchor = text_column(ds, anchor_column, 0, path, "dataset.anchor_column")
    positive = text_column(ds, positive_column, 1, path, "dataset.positive_column")
    anchors, positives = list(ds[anchor]), list(ds[positive])
    if not anchors:
        raise DataError(f"{path}: the dataset is empty")
    extra: list[str] = []
    if corpus is not None:
        cds = load_pairs_dataset(corpus)
        extra = list(cds[text_column(cds, corpus_column, 0, corpus, "dataset.corpus_column")])
    queries = list(dict.fromkeys(anchors))
    docs = list(dict.fromkeys(extra + positives))
    qids, dids = _ids("q", len(queries)), _ids("d", len(docs))
    q_at = {t: qids[i] for i, t in enumerate(queries)}
    d_at = {t: dids[i] for i, t in enumerate(docs)}
    qrels: dict[str, dict[str, int]] = {}
    for a, p in zip(anchors, positives, strict=True):
        qrels.setdefault(q_at[a], {})[d_at[p]] = 1
    info = {
        "source": str(path),
        "corpus": None if corpus is None else str(corpus),
        "columns": [anchor, positive],
        "pairs": len(anchors),
    }
    log.info("%s: %d pairs, %d queries, %d documents", name, len(anchors), len(qids), len(dids))
    return Collection(name, dids, docs, qids, queries, {PAIRS_SPLIT: qrels}, info)


def _ids(prefix: str, n: int) -> list[str]:
    """Zero-padded ids, so that sorting them keeps the input order."""
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]
