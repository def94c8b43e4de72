"""Hand-computed cases for the false-negative measurements."""

from __future__ import annotations

import torch

from zelo.eval.false_negatives import (
    inbatch_false_negatives,
    relevance_of,
    score_margins,
    student_view,
    teacher_false_negative_rate,
)
from zelo.utils.tensors import pad_rows

NAN = float("nan")


def test_inbatch_false_negatives_counts_other_rows_minus_own_positives() -> None:
    # query 0: positive 1, negatives 2, 3 | query 1: positive 4, negative 5, padding
    doc_ids = torch.tensor([[1, 2, 3], [4, 5, -1]])
    judgments = [{1: 2, 4: 1, 9: 1}, {4: 1, 2: 1, 3: 2}]
    positives = [[1], [4]]
    # q0 sees {4, 5}: 4 is judged relevant to q0 -> 1 FN of 2
    # q1 sees {1, 2, 3}: 2 and 3 are relevant to q1 -> 2 FN of 3
    assert inbatch_false_negatives(doc_ids, judgments, pad_rows(positives)) == (3, 5)


def test_inbatch_never_counts_a_query_own_labelled_positive() -> None:
    doc_ids = torch.tensor([[1, 7], [7, 1]])  # each row holds the other's positive
    judgments = [{1: 1, 7: 1}, {7: 1, 1: 1}]
    positives = [[1, 7], [7]]  # q0 labels both: the loss masks them, so no FN for q0
    fn, total = inbatch_false_negatives(doc_ids, judgments, pad_rows(positives))
    assert (fn, total) == (1, 1)  # q1 sees 1 (relevant, unlabelled): 1 FN of 1


def test_teacher_rate_counts_ties_as_false_negatives() -> None:
    neg = torch.tensor([[0.5, 0.6, 0.1], [0.3, NAN, NAN]])
    pos = torch.tensor([[0.5, 0.8], [0.9, NAN]])  # reference (min): 0.5 and 0.9
    # row 0: 0.5 (tie) and 0.6 count, 0.1 does not; row 1: 0.3 does not -> 2 of 4
    assert teacher_false_negative_rate(neg, pos) == 0.5
    assert torch.allclose(score_margins(neg, pos), torch.tensor([0.0, 0.1, -0.4, -0.6]))


def test_relevance_of_marks_unjudged_and_missing() -> None:
    grades = relevance_of(torch.tensor([[3, 4, -1]]), [{3: 2}])
    assert grades.tolist() == [[2, 0, -1]]


def test_inbatch_counts_duplicates_in_other_rows_each_time() -> None:
    doc_ids = torch.tensor([[1, 9], [2, 9], [3, 9]])  # doc 9 mined for every query
    judgments = [{1: 1, 9: 1}, {2: 1}, {3: 1}]
    # q0 sees 2, 9, 3, 9: doc 9 twice, relevant to q0 -> 2 FN of 4; q1, q2 see no FN
    assert inbatch_false_negatives(doc_ids, judgments, pad_rows([[1], [2], [3]])) == (2, 12)


def test_inbatch_agrees_with_a_plain_loop() -> None:
    g = torch.Generator().manual_seed(0)
    doc_ids = torch.randint(-1, 15, (6, 4), generator=g)
    judgments = [{int(d): 1 for d in torch.randint(0, 15, (5,), generator=g)} for _ in range(6)]
    positives = [[int(doc_ids[i, 0])] if doc_ids[i, 0] >= 0 else [] for i in range(6)]
    fn = total = 0
    rows = [[d for d in r if d >= 0] for r in doc_ids.tolist()]
    for i in range(6):
        cands = [d for j, r in enumerate(rows) if j != i for d in r if d not in positives[i]]
        total += len(cands)
        fn += sum(1 for d in cands if judgments[i].get(d, 0) > 0)
    assert inbatch_false_negatives(doc_ids, judgments, pad_rows(positives)) == (fn, total)


def test_student_view_hand_computed() -> None:
    q = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[0.5, 0.0]])  # score 0.5
    neg = torch.tensor([[[0.75, 0.0], [0.25, 0.0], [0.5, 0.0], [0.0, 0.0]]])  # 0.75 .25 .5 0
    grades = torch.tensor([[0, 2, 1, -1]])  # TN, FN, FN (a tie with the positive), none
    stats, margins = student_view(q, pos, neg, grades)
    assert stats["fn/student_above_pos"] == 1 / 3  # only 0.75 is above; the tie is not
    assert stats["fn/student_above_pos_tn"] == 1.0 and stats["fn/student_above_pos_fn"] == 0.0
    assert stats["fn/student_margin_mean"] == 0.0  # (0.25 - 0.25 + 0) / 3
    assert margins.tolist() == [0.25, -0.25, 0.0]
