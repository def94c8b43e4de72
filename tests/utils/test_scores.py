from __future__ import annotations

import pytest
import torch

from zelo.utils.scores import at_or_above, reference_score

NAN = float("nan")
POS = torch.tensor([[0.75, 0.875, NAN], [0.5, NAN, NAN], [NAN, NAN, NAN]])


def test_reference_score_ignores_padding():
    torch.testing.assert_close(reference_score(POS, "min")[:2], torch.tensor([0.75, 0.5]))
    torch.testing.assert_close(reference_score(POS, "max")[:2], torch.tensor([0.875, 0.5]))
    torch.testing.assert_close(reference_score(POS, "mean")[:2], torch.tensor([0.8125, 0.5]))
    for reduce in ("min", "max", "mean"):
        assert torch.isnan(reference_score(POS, reduce)[2])
    with pytest.raises(ValueError):
        reference_score(POS, "median")


def test_reference_score_ignores_infinite_entries():
    pos = torch.tensor([[0.5, float("inf")], [float("-inf"), NAN]])
    assert reference_score(pos, "max")[0] == 0.5 and torch.isnan(reference_score(pos, "min")[1])


def test_at_or_above_hand_computed_with_ties_and_nan():
    scores = torch.tensor([[0.5, 0.75, 0.25, NAN], [0.5, 0.5, 0.5, 0.5]])
    ref = torch.tensor([0.5, NAN])
    assert at_or_above(scores, ref).tolist() == [[True, True, False, False], [False] * 4]
    # absolute margin 0.25: s >= 0.25; relative 0.5: s >= 0.25 too (s+ = 0.5)
    assert at_or_above(scores, ref, 0.25)[0].tolist() == [True, True, True, False]
    assert at_or_above(scores, ref, 0.5, "relative")[0].tolist() == [True, True, True, False]
    with pytest.raises(ValueError):
        at_or_above(scores, ref, mode="percent")
