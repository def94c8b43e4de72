"""Hand-computed cases for the false-negative measurements."""

from __future__ import annotations

import math

import torch

from zelo.eval.false_negatives import (
    inbatch_false_negatives,
    reference_positive,
    relevance_of,
    score_margins,
    teacher_false_negative_rate,
)

NAN = float("nan")


def test_inbatch_false_negatives_counts_other_rows_minus_own_positives() -> None:
    # query 0: positive 1, negatives 2, 3 | query 1: positive 4, negative 5, padding
    doc_ids = torch.tensor([[1, 2, 3], [4, 5, -1]])
    judgments = [{1: 2, 4: 1, 9: 1}, {4: 1, 2: 1, 3: 2}]
    positives = [[1], [4]]
    # q0 sees {4, 5}: 4 is judged relevant to q0 -> 1 FN of 2
    # q1 sees {1, 2, 3}: 2 and 3 are relevant to q1 -> 2 FN of 3
    assert inbatch_false_negatives(doc_ids, judgments, positives) == (3, 5)


def test_inbatch_never_counts_a_query_own_labelled_positive() -> None:
    doc_ids = torch.tensor([[1, 7], [7, 1]])  # each row holds the other's positive
    judgments = [{1: 1, 7: 1}, {7: 1, 1: 1}]
    positives = [[1, 7], [7]]  # q0 labels both: the loss masks them, so no FN for q0
    fn, total = inbatch_false_negatives(doc_ids, judgments, positives)
    assert (fn, total) == (1, 1)  # q1 sees 1 (relevant, unlabelled): 1 FN of 1


def test_reference_positive_ignores_nan_padding() -> None:
    pos = torch.tensor([[0.9, 0.5, NAN], [NAN, NAN, NAN], [0.2, NAN, NAN]])
    assert torch.allclose(reference_positive(pos, "min")[[0, 2]], torch.tensor([0.5, 0.2]))
    assert torch.allclose(reference_positive(pos, "max")[[0, 2]], torch.tensor([0.9, 0.2]))
    assert torch.allclose(reference_positive(pos, "mean")[[0, 2]], torch.tensor([0.7, 0.2]))
    assert math.isnan(float(reference_positive(pos)[1]))


def test_teacher_rate_counts_ties_as_false_negatives() -> None:
    neg = torch.tensor([[0.5, 0.6, 0.1], [0.3, NAN, NAN]])
    pos = torch.tensor([[0.5, 0.8], [0.9, NAN]])  # reference (min): 0.5 and 0.9
    # row 0: 0.5 (tie) and 0.6 count, 0.1 does not; row 1: 0.3 does not -> 2 of 4
    assert teacher_false_negative_rate(neg, pos) == 0.5
    assert torch.allclose(score_margins(neg, pos), torch.tensor([0.0, 0.1, -0.4, -0.6]))


def test_relevance_of_marks_unjudged_and_missing() -> None:
    grades = relevance_of(torch.tensor([[3, 4, -1]]), [{3: 2}])
    assert grades.tolist() == [[2, 0, -1]]
