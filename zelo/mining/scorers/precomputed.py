"""Negatives mined elsewhere: a ``zelo-mine`` output or a sentence-transformers
``mine_hard_negatives`` dataset, read back into corpus indices and trained on.

Formats (detected from the columns; the anchor and positive columns are the first two unless
named): ``triplet`` (anchor, positive, negative), ``n-tuple`` (anchor, positive, negative_1..N),
``labeled-pair`` (anchor, document, label) and ``labeled-list`` (anchor, [documents], labels),
with sentence-transformers' ``output_scores=True`` variants (``scores`` lists; ``labeled-list``
with ``scores``, whose first document is the positive) and zelo-mine's ``zelo_*`` score columns.
``labeled-pair`` with a ``score`` column and no ``label`` cannot tell positives from negatives and
is refused. Texts are mapped back to the corpus by exact text (a document is ``title + " " +
text``, as zelo-mine writes it); a positive or negative text not in the corpus is an error that
names the file, the row and the column. Rows whose anchor is not a training query are skipped
and counted.

What the set's **intelligence** can be here: the file lists, per query, its positives and its
mined negatives only, not the miner's ranking of the corpus. ``miner/ndcg@10`` of a precomputed
set is the nDCG@10 (against the full judgments, as for every miner) of that partial ranking: the
listed documents ordered by the file's scores when it carries them, else the positives first and
the negatives in file order (the miner's own order). It is comparable between precomputed sets of
the same N, not with a full-ranking miner's figure. A zelo-mine folder also carries the miner's
full-ranking figure in ``zelo_summary.json``, reported as ``mining/source_ndcg@10``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from zelo.errors import ConfigError
from zelo.keys import (
    FN_RATE,
    MINER_NDCG,
    MINING_PREFIX,
    MINING_SOURCE_FN_RATE,
    MINING_SOURCE_NDCG,
)
from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import input_key
from zelo.types import MiningInput
from zelo.utils.datasets_io import load_local
from zelo.utils.tensors import pad_rows

log = logging.getLogger(__name__)

FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
SUMMARY_FILE = "zelo_summary.json"


@dataclass
class Row:
    """One dataset row, normalised: its anchor, positives and negatives (texts) and their scores
    (``None`` where the file has none)."""

    anchor: str
    positives: list[str]
    negatives: list[str]
    pos_scores: list[float | None]
    neg_scores: list[float | None]


def detect_format(columns: list[str]) -> str:
    """The ``mine_hard_negatives`` output format of a dataset with these columns.

    Raises:
        ValueError: no format matches.
    """
    names = set(columns)
    if "labels" in names or ("scores" in names and len(columns) == 3 and "negative" not in names):
        return "labeled-list"
    if "label" in names or "score" in names:
        return "labeled-pair"
    if any(c.startswith("negative_") for c in columns):
        return "n-tuple"
    if "negative" in names:
        return "triplet"
    raise ValueError(
        f"columns {columns} match no mine_hard_negatives format {FORMATS} (need a 'negative', "
        "'negative_1..N', 'label' or 'labels' column)"
    )


def _score(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _scores(row: Mapping, names: tuple[str, ...], n: int) -> list[float | None]:
    """The first list-valued score column among ``names`` (length ``n``), else ``None`` each."""
    for name in names:
        if row.get(name) is not None:
            values = list(row[name])
            if len(values) == n:
                return [_score(v) for v in values]
    return [None] * n


def normalise_row(row: Mapping, fmt: str, anchor: str, positive: str) -> Row:
    """One row of format ``fmt`` as a :class:`Row` (pure; columns by name).

    Raises:
        ValueError: a labeled-pair row with scores but no label.
    """
    a = str(row[anchor])
    if fmt == "triplet":
        pos_s, neg_s = _scores(row, ("scores",), 2) if "scores" in row else [None, None]
        pos_s = _score(row.get("zelo_positive_score", pos_s))
        neg_s = _score(row.get("zelo_negative_score", neg_s))
        return Row(a, [str(row[positive])], [str(row["negative"])], [pos_s], [neg_s])
    if fmt == "n-tuple":
        cols = sorted(
            (c for c in row if c.startswith("negative_") and c[9:].isdigit()),
            key=lambda c: int(c[9:]),
        )
        negs = [str(row[c]) for c in cols]
        joint = _scores(row, ("scores",), len(negs) + 1)
        neg_s = _scores(row, ("zelo_negative_scores",), len(negs))
        if all(s is None for s in neg_s):
            neg_s = joint[1:]
        pos_s = _score(row.get("zelo_positive_score", joint[0]))
        return Row(a, [str(row[positive])], negs, [pos_s], neg_s)
    if fmt == "labeled-pair":
        if row.get("label") is None:
            raise ValueError(
                "a labeled-pair row with a score but no label: positives and negatives cannot be "
                "told apart (mine with output_scores=False, or use another output_format)"
            )
        s = _score(row.get("zelo_score", row.get("score")))
        if int(row["label"]) > 0:
            return Row(a, [str(row[positive])], [], [s], [])
        return Row(a, [], [str(row[positive])], [], [s])
    docs = [str(d) for d in row[positive]]  # labeled-list
    labels = row.get("labels")
    labels = [int(x) for x in labels] if labels is not None else [1] + [0] * (len(docs) - 1)
    scores = _scores(row, ("zelo_scores", "scores"), len(docs))
    pos = [i for i, y in enumerate(labels) if y > 0]
    neg = [i for i, y in enumerate(labels) if y <= 0]
    return Row(a, [docs[i] for i in pos], [docs[i] for i in neg], *_pick(scores, pos, neg))


def _pick(scores: list, pos: list[int], neg: list[int]) -> tuple[list, list]:
    return [scores[i] for i in pos], [scores[i] for i in neg]


@dataclass
class QueryLists:
    """Per query: its positives and negatives (corpus indices, first-seen order, no repeats) and
    the file's score of each document (absent when the file has none)."""

    positives: list[int] = field(default_factory=list)
    negatives: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)

    def add(self, doc: int, score: float | None, positive: bool) -> None:
        target = self.positives if positive else self.negatives
        if doc not in target and not (not positive and doc in self.positives):
            target.append(doc)
        if score is not None:
            self.scores.setdefault(doc, score)

    def ranking(self) -> tuple[list[int], list[float]]:
        """The listed documents, best first, and their scores: by the file's scores when every
        document has one, else positives first then negatives in order (scores ``-position``)."""
        docs = self.positives + [d for d in self.negatives if d not in self.positives]
        if docs and all(d in self.scores for d in docs):
            order = sorted(range(len(docs)), key=lambda i: -self.scores[docs[i]])  # stable
            return [docs[i] for i in order], [self.scores[docs[i]] for i in order]
        return docs, [-float(i) for i in range(len(docs))]


def resolve_rows(
    rows: list[Row],
    query_texts: list[str],
    doc_texts: list[str],
    source: str,
) -> tuple[list[QueryLists], dict[str, float]]:
    """Map normalised rows to training queries and corpus indices.

    Args:
        rows: the file's rows, in file order.
        query_texts: the training queries (rows with another anchor are skipped and counted).
        doc_texts: the corpus; a document text maps to its first index.
        source: the file, named in errors.

    Returns:
        one :class:`QueryLists` per training query, and counts for the log.

    Raises:
        ConfigError: a positive or negative text that is not in the corpus (file, row, column),
            or no row whose anchor is a training query.
    """
    query_index: dict[str, int] = {}
    for i, text in enumerate(query_texts):
        query_index.setdefault(text, i)
    doc_index: dict[str, int] = {}
    for i, text in enumerate(doc_texts):
        doc_index.setdefault(text, i)
    lists = [QueryLists() for _ in query_texts]
    skipped = 0
    for r, row in enumerate(rows):
        q = query_index.get(row.anchor)
        if q is None:
            skipped += 1
            continue
        for kind, texts, scores in (
            ("positive", row.positives, row.pos_scores),
            ("negative", row.negatives, row.neg_scores),
        ):
            for text, score in zip(texts, scores, strict=True):
                doc = doc_index.get(text)
                if doc is None:
                    raise ConfigError(
                        f"{source}: row {r}: {kind} text not in the corpus: {text[:80]!r} (texts "
                        "are matched exactly; a BEIR document is title + ' ' + text)"
                    )
                lists[q].add(doc, score, kind == "positive")
    matched = sum(1 for ql in lists if ql.positives or ql.negatives)
    if not matched:
        raise ConfigError(
            f"{source}: none of its {len(rows)} rows has a training query as anchor (first "
            f"anchor: {rows[0].anchor[:80]!r})"
            if rows
            else f"{source}: the dataset is empty"
        )
    counts = {"precomputed_rows": len(rows), "precomputed_rows_skipped": skipped}
    counts["precomputed_queries"] = matched
    return lists, counts


def load_dataset(path: str | Path) -> Any:
    """The mined dataset at ``path`` (see :func:`zelo.utils.datasets_io.load_local`).

    Raises:
        ConfigError: no dataset there, a ``DatasetDict``, or an unknown file type.
    """
    return load_local(path, ConfigError, f"miner.scorer.path={path}", "miner=precomputed")


class PrecomputedScorer(ScorerBase):
    """Negatives from a mined dataset, as a scorer whose ranking is the file's per-query lists.

    With the ``top`` sampler, the miner takes each query's negatives in the file's order (by its
    scores when it has them); ``miner.drop_judged=true`` (the FN-free twin, a CONTROL) removes
    the judged-relevant ones and leaves the rest.

    Args:
        path: a ``save_to_disk`` folder or a JSON(L)/CSV/Parquet file.
        anchor_column: the anchor column (``None``: the first column).
        positive_column: the positive (or document) column (``None``: the second column).
    """

    name = "precomputed"
    softmax_temperature = 0.05  # the usual source: cosine similarities

    def __init__(
        self, path: str, anchor_column: str | None = None, positive_column: str | None = None
    ) -> None:
        self.path = str(path)
        ds = load_dataset(path)
        columns = list(ds.column_names)
        try:
            self.format = detect_format(columns)
        except ValueError as err:
            raise ConfigError(f"miner.scorer.path={self.path}: {err}") from None
        self.anchor = anchor_column or columns[0]
        self.positive = positive_column or columns[1]
        for key, col in (("anchor_column", self.anchor), ("positive_column", self.positive)):
            if col not in columns:
                raise ConfigError(f"miner.scorer.{key}={col!r}: not a column of {self.path}")
        self.rows = []
        for r, raw in enumerate(ds):
            try:
                self.rows.append(normalise_row(raw, self.format, self.anchor, self.positive))
            except ValueError as err:
                raise ConfigError(f"{self.path}: row {r}: {err}") from None
        self.scored = bool(self.rows) and all(
            s is not None for row in self.rows for s in row.pos_scores + row.neg_scores
        )
        self.source_figures = source_summary(self.path)
        self._state: tuple[str, list[QueryLists], dict[str, float]] | None = None
        log.info("%s: %d rows, format %s", self.path, len(self.rows), self.format)

    def lists(self, inp: MiningInput) -> list[QueryLists]:
        """Per training query, its listed documents (memoised per input)."""
        key = input_key(inp)
        if self._state is None or self._state[0] != key:
            lists, counts = resolve_rows(self.rows, inp.query_texts, inp.doc_texts, self.path)
            self._state = (key, lists, counts)
            if counts["precomputed_rows_skipped"]:
                log.warning(
                    "%s: %d of %d rows skipped (anchor not a training query)",
                    self.path,
                    counts["precomputed_rows_skipped"],
                    counts["precomputed_rows"],
                )
        return self._state[1]

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each query's listed documents (positives included), best first: ``[Q, depth]``."""
        ids = torch.full((len(inp.query_texts), depth), -1, dtype=torch.long)
        scores = torch.full(ids.shape, float("-inf"))
        for q, ql in enumerate(self.lists(inp)):
            docs, s = ql.ranking()
            k = min(depth, len(docs))
            ids[q, :k] = torch.tensor(docs[:k], dtype=torch.long)
            scores[q, :k] = torch.tensor(s[:k], dtype=torch.float32)
        return ids, scores

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """The ranking's scores of ``doc_ids [Q, P]`` -> ``[Q, P]`` (NaN: not listed or -1)."""
        out = torch.full(doc_ids.shape, float("nan"))
        for q, ql in enumerate(self.lists(inp)):
            docs, s = ql.ranking()
            lookup = dict(zip(docs, s, strict=True))
            for j, d in enumerate(doc_ids[q].tolist()):
                if d in lookup:
                    out[q, j] = lookup[d]
        return out

    def not_negatives(self, inp: MiningInput) -> torch.Tensor:
        """The file's own positives of each query ``[Q, M]``: never taken as negatives, also
        when this run's annotation labels fewer of them."""
        return pad_rows([ql.positives for ql in self.lists(inp)])

    def report(self) -> dict[str, float]:
        counts = dict(self._state[2]) if self._state is not None else {}
        return {**counts, "precomputed_scored": float(self.scored), **self.source_figures}


def source_summary(path: str | Path) -> dict[str, float]:
    """The mining figures a zelo-mine folder recorded (``zelo_summary.json``), prefixed
    ``source_``: the source miner's full-ranking intelligence and FN rate; ``{}`` when absent."""
    file = Path(path) / SUMMARY_FILE
    if not file.is_file():
        return {}
    try:
        summary = json.loads(file.read_text())
    except (OSError, ValueError):
        log.warning("%s: unreadable, ignored", file)
        return {}
    out = {}
    for key, figure in ((MINER_NDCG, MINING_SOURCE_NDCG), (FN_RATE, MINING_SOURCE_FN_RATE)):
        value = summary.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            out[figure.removeprefix(MINING_PREFIX)] = float(value)  # logged as ``figure``
    return out
