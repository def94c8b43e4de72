"""The four sentence-transformers output formats on a hand-built pass: ids, order, dropped rows."""

from __future__ import annotations

import math

import pytest

from zelo.st.formats import FORMATS, MinedView, build_rows, st_columns

NAN = math.nan


@pytest.fixture
def view() -> MinedView:
    """q0: positives d0, d1 and negatives d2, d3 (the third slot ran short); q1: positive d4,
    negatives d0, d1, d2 (full). d3 is flagged a false negative; the teacher flags d0 for q1."""
    return MinedView(
        query_ids=["q0", "q1"],
        query_texts=["Q0", "Q1"],
        doc_ids=["d0", "d1", "d2", "d3", "d4"],
        doc_texts=["D0", "D1", "D2", "D3", "D4"],
        positives=[[0, 1], [4]],
        pos_scores=[[0.9, 0.8], [0.7, NAN]],
        neg_ids=[[2, 3, -1], [0, 1, 2]],
        neg_scores=[[0.5, 0.4, NAN], [0.75, 0.3, 0.2]],
        flags={"fn": [[False, True, False], [False, False, False]],
               "fn_teacher": [[False, False, False], [True, False, False]]},
        columns=("query", "answer"),
    )  # fmt: skip


def test_triplet_has_one_row_per_positive_and_negative(view: MinedView) -> None:
    rows = build_rows(view, "triplet")
    assert st_columns(list(rows)) == ["query", "answer", "negative"]
    triples = list(zip(rows["query"], rows["answer"], rows["negative"], strict=True))
    assert triples == [
        ("Q0", "D0", "D2"), ("Q0", "D0", "D3"), ("Q0", "D1", "D2"), ("Q0", "D1", "D3"),
        ("Q1", "D4", "D0"), ("Q1", "D4", "D1"), ("Q1", "D4", "D2"),
    ]  # fmt: skip
    assert rows["zelo_negative_id"] == ["d2", "d3", "d2", "d3", "d0", "d1", "d2"]
    assert rows["zelo_positive_score"] == [0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.7]
    assert rows["zelo_negative_score"] == [0.5, 0.4, 0.5, 0.4, 0.75, 0.3, 0.2]
    assert rows["zelo_fn"] == [False, True, False, True, False, False, False]
    assert rows["zelo_fn_teacher"] == [False, False, False, False, True, False, False]


def test_ntuple_keeps_only_queries_with_every_negative(view: MinedView) -> None:
    rows = build_rows(view, "n-tuple")
    assert st_columns(list(rows)) == ["query", "answer", "negative_1", "negative_2", "negative_3"]
    assert rows["query"] == ["Q1"]
    assert [rows[f"negative_{i}"][0] for i in (1, 2, 3)] == ["D0", "D1", "D2"]
    assert rows["zelo_negative_ids"] == [["d0", "d1", "d2"]]
    assert rows["zelo_negative_scores"] == [[0.75, 0.3, 0.2]]
    assert rows["zelo_fn_teacher"] == [[True, False, False]]


def test_labeled_pair_lists_positives_then_negatives(view: MinedView) -> None:
    rows = build_rows(view, "labeled-pair")
    assert st_columns(list(rows)) == ["query", "answer", "label"]
    assert rows["answer"] == ["D0", "D1", "D2", "D3", "D4", "D0", "D1", "D2"]
    assert rows["label"] == [1, 1, 0, 0, 1, 0, 0, 0]
    assert rows["zelo_score"] == [0.9, 0.8, 0.5, 0.4, 0.7, 0.75, 0.3, 0.2]
    assert rows["zelo_fn"] == [None, None, False, True, None, False, False, False]


def test_labeled_list_puts_the_positive_first(view: MinedView) -> None:
    rows = build_rows(view, "labeled-list")
    assert st_columns(list(rows)) == ["query", "answer", "labels"]
    assert rows["answer"] == [["D0", "D2", "D3"], ["D1", "D2", "D3"], ["D4", "D0", "D1", "D2"]]
    assert rows["labels"] == [[1, 0, 0], [1, 0, 0], [1, 0, 0, 0]]
    assert rows["zelo_scores"][0] == [0.9, 0.5, 0.4]
    assert rows["zelo_fn"][0] == [None, False, True]


def test_a_query_without_negatives_gives_no_row(view: MinedView) -> None:
    view.neg_ids[1] = [-1, -1, -1]
    for fmt in FORMATS:
        rows = build_rows(view, fmt)
        anchors = rows["query"]
        if fmt == "labeled-pair":
            assert anchors.count("Q1") == 1  # only its positive
        else:
            assert "Q1" not in anchors, fmt


def test_unknown_format_is_refused(view: MinedView) -> None:
    with pytest.raises(ValueError, match="output_format"):
        build_rows(view, "quadruplet")
