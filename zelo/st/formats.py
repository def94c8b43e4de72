"""Mined negatives as rows in sentence-transformers' output formats, plus zelo's own columns.

The four formats and their column names are those of ``mine_hard_negatives``'s ``output_format``
(with ``output_scores``, :func:`with_scores`); the anchor and positive columns keep the input's
names:

- ``triplet``: (anchor, positive, negative), one row per (query, positive, negative);
- ``n-tuple``: (anchor, positive, negative_1, ..., negative_N), one row per (query, positive),
  only for queries with all N negatives;
- ``labeled-pair``: (anchor, positive, label): each positive with label 1, each negative with 0;
- ``labeled-list``: (anchor, positive, labels): per (query, positive) the list [positive,
  negatives...] and the labels [1, 0, ...], for queries with at least one negative.

zelo's columns follow, all prefixed ``zelo_`` so that ``select_columns`` can drop them: the ids,
the scorer's scores (``zelo_positive_score``, ``zelo_negative_score``; ``zelo_score`` in the labeled
formats) and one column per false-negative flag (``zelo_fn``: the negative is judged relevant;
``zelo_fn_teacher``: the teacher scores it at or above the positive), ``None`` on positives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
ZELO_PREFIX = "zelo_"

Rows = dict[str, list]


@dataclass
class MinedView:
    """One mining pass in plain lists, ready to become rows.

    Attributes:
        query_ids, query_texts: the queries (``[Q]``).
        doc_ids, doc_texts: the corpus.
        positives: labelled positives per query (doc indices).
        pos_scores: the scorer's score of each labelled positive, aligned with ``positives``.
        neg_ids: ``[Q][N]`` negatives (doc indices, ``-1`` where a row ran short).
        neg_scores: ``[Q][N]`` the scorer's scores of the negatives.
        flags: flag name (``fn``, ``fn_teacher``) -> ``[Q][N]`` bool per negative.
        columns: the anchor and positive column names.
    """

    query_ids: list[str]
    query_texts: list[str]
    doc_ids: list[str]
    doc_texts: list[str]
    positives: list[list[int]]
    pos_scores: list[list[float]]
    neg_ids: list[list[int]]
    neg_scores: list[list[float]]
    flags: dict[str, list[list[bool]]] = field(default_factory=dict)
    columns: tuple[str, str] = ("anchor", "positive")

    def pairs(self) -> Iterator[tuple[int, int, float | None, list[int]]]:
        """``(q, positive doc, positive score, [valid negative slots])`` per (query, positive)."""
        for q, docs in enumerate(self.positives):
            slots = [j for j, d in enumerate(self.neg_ids[q]) if d >= 0]
            for p, d in enumerate(docs):
                yield q, d, _num(self.pos_scores[q][p]), slots


def triplet_rows(v: MinedView) -> Rows:
    """``(anchor, positive, negative)`` rows and zelo's columns, one row per negative."""
    a, p = v.columns
    rows: Rows = _empty(a, p, "negative", "zelo_query_id", "zelo_positive_id")
    rows.update(_empty("zelo_negative_id", "zelo_positive_score", "zelo_negative_score"))
    rows.update(_empty(*(ZELO_PREFIX + f for f in v.flags)))
    for q, d, score, slots in v.pairs():
        for j in slots:
            n = v.neg_ids[q][j]
            _add(rows, a, v.query_texts[q], p, v.doc_texts[d], "negative", v.doc_texts[n])
            _add(rows, "zelo_query_id", v.query_ids[q], "zelo_positive_id", v.doc_ids[d])
            _add(rows, "zelo_negative_id", v.doc_ids[n], "zelo_positive_score", score)
            rows["zelo_negative_score"].append(_num(v.neg_scores[q][j]))
            for f, flags in v.flags.items():
                rows[ZELO_PREFIX + f].append(flags[q][j])
    return rows


def ntuple_rows(v: MinedView) -> Rows:
    """``(anchor, positive, negative_1..N)`` rows for queries with all N negatives."""
    a, p = v.columns
    n_neg = max((len(r) for r in v.neg_ids), default=0)
    negs = [f"negative_{i}" for i in range(1, n_neg + 1)]
    rows: Rows = _empty(a, p, *negs, "zelo_query_id", "zelo_positive_id", "zelo_negative_ids")
    rows.update(_empty("zelo_positive_score", "zelo_negative_scores"))
    rows.update(_empty(*(ZELO_PREFIX + f for f in v.flags)))
    for q, d, score, slots in v.pairs():
        if len(slots) < n_neg:
            continue
        ids = [v.neg_ids[q][j] for j in slots]
        _add(rows, a, v.query_texts[q], p, v.doc_texts[d])
        for name, n in zip(negs, ids, strict=True):
            rows[name].append(v.doc_texts[n])
        _add(rows, "zelo_query_id", v.query_ids[q], "zelo_positive_id", v.doc_ids[d])
        _add(rows, "zelo_negative_ids", [v.doc_ids[n] for n in ids], "zelo_positive_score", score)
        rows["zelo_negative_scores"].append([_num(s) for s in v.neg_scores[q]])
        for f, flags in v.flags.items():
            rows[ZELO_PREFIX + f].append(list(flags[q]))
    return rows


def labeled_pair_rows(v: MinedView) -> Rows:
    """``(anchor, positive, label)`` rows: every positive (label 1), then every negative (0)."""
    a, p = v.columns
    rows: Rows = _empty(a, p, "label", "zelo_query_id", "zelo_doc_id", "zelo_score")
    rows.update(_empty(*(ZELO_PREFIX + f for f in v.flags)))

    def add(q: int, doc: int, label: int, score: float, j: int | None) -> None:
        _add(rows, a, v.query_texts[q], p, v.doc_texts[doc], "label", label)
        _add(rows, "zelo_query_id", v.query_ids[q], "zelo_doc_id", v.doc_ids[doc])
        rows["zelo_score"].append(score)
        for f, flags in v.flags.items():
            rows[ZELO_PREFIX + f].append(None if j is None else flags[q][j])

    for q, docs in enumerate(v.positives):
        for d, score in zip(docs, v.pos_scores[q], strict=False):
            add(q, d, 1, _num(score), None)
        for j, n in enumerate(v.neg_ids[q]):
            if n >= 0:
                add(q, n, 0, _num(v.neg_scores[q][j]), j)
    return rows


def labeled_list_rows(v: MinedView) -> Rows:
    """``(anchor, [positive, negatives...], [1, 0, ...])`` rows for queries with a negative."""
    a, p = v.columns
    rows: Rows = _empty(a, p, "labels", "zelo_query_id", "zelo_doc_ids", "zelo_scores")
    rows.update(_empty(*(ZELO_PREFIX + f for f in v.flags)))
    for q, d, score, slots in v.pairs():
        if not slots:
            continue
        docs = [d] + [v.neg_ids[q][j] for j in slots]
        _add(rows, a, v.query_texts[q], p, [v.doc_texts[x] for x in docs])
        _add(rows, "labels", [1] + [0] * len(slots), "zelo_query_id", v.query_ids[q])
        rows["zelo_doc_ids"].append([v.doc_ids[x] for x in docs])
        rows["zelo_scores"].append([score] + [_num(v.neg_scores[q][j]) for j in slots])
        for f, flags in v.flags.items():
            rows[ZELO_PREFIX + f].append([None] + [flags[q][j] for j in slots])
    return rows


BUILDERS: dict[str, Callable[[MinedView], Rows]] = {
    "triplet": triplet_rows,
    "n-tuple": ntuple_rows,
    "labeled-pair": labeled_pair_rows,
    "labeled-list": labeled_list_rows,
}


def build_rows(view: MinedView, output_format: str) -> Rows:
    """The columns of ``output_format`` (one of :data:`FORMATS`) as ``{name: values}``."""
    if output_format not in BUILDERS:
        raise ValueError(f"output_format must be one of {FORMATS}, got {output_format!r}")
    return BUILDERS[output_format](view)


def with_scores(rows: Rows, output_format: str) -> Rows:
    """The rows with sentence-transformers' score columns, as ``mine_hard_negatives`` writes them
    with ``output_scores=True`` (the scorer's scores; MarginMSE-style losses read them): ``scores``
    = [positive, negative] (``triplet``) or [positive, negative_1..N] (``n-tuple``) after the
    text columns; ``score`` in place of ``label`` (``labeled-pair``); ``scores`` in place of
    ``labels`` (``labeled-list``). zelo's own columns follow, unchanged."""
    if output_format == "triplet":
        pairs = zip(rows["zelo_positive_score"], rows["zelo_negative_score"], strict=True)
        return _insert_before_zelo(rows, "scores", [list(p) for p in pairs])
    if output_format == "n-tuple":
        pairs = zip(rows["zelo_positive_score"], rows["zelo_negative_scores"], strict=True)
        return _insert_before_zelo(rows, "scores", [[p, *n] for p, n in pairs])
    old, new, source = {
        "labeled-pair": ("label", "score", "zelo_score"),
        "labeled-list": ("labels", "scores", "zelo_scores"),
    }[output_format]
    return {(new if k == old else k): (rows[source] if k == old else v) for k, v in rows.items()}


def _insert_before_zelo(rows: Rows, name: str, values: list) -> Rows:
    out = {k: v for k, v in rows.items() if not k.startswith(ZELO_PREFIX)}
    out[name] = values
    out.update({k: v for k, v in rows.items() if k.startswith(ZELO_PREFIX)})
    return out


def st_columns(columns: list[str]) -> list[str]:
    """The columns a sentence-transformers trainer reads: all but zelo's own, in order."""
    return [c for c in columns if not c.startswith(ZELO_PREFIX)]


def _empty(*names: str) -> Rows:
    return {n: [] for n in names}


def _add(rows: Rows, *pairs) -> None:
    for name, value in zip(pairs[::2], pairs[1::2], strict=True):
        rows[name].append(value)


def _num(x: float) -> float | None:
    """A float, or ``None`` for NaN (a negative or positive the scorer gave no score)."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
