"""Isotonic regression (pool adjacent violators) and the direction the verdict gives it."""

from __future__ import annotations

import numpy as np
import pytest

from zelo.analysis.monotone import isotonic, monotone_summary


def test_isotonic_pools_violators() -> None:
    assert isotonic(np.array([1.0, 3.0, 2.0, 4.0])) == pytest.approx([1, 2.5, 2.5, 4])
    assert isotonic(np.array([3.0, 1.0]), np.array([1.0, 3.0])) == pytest.approx([1.5, 1.5])
    assert isotonic(np.array([1.0, 3.0, 2.0]), increasing=False) == pytest.approx([2, 2, 2])
    assert isotonic(np.array([3.0, 2.0, 2.5, 1.0]), increasing=False) == pytest.approx(
        [3, 2.25, 2.25, 1]
    )
    assert isotonic(np.array([0.5])) == pytest.approx([0.5])


def test_direction_follows_the_verdict() -> None:
    x, y = np.array([0.9, 0.1, 0.5]), np.array([0.3, 0.5, 0.45])  # falling, given unsorted
    xs, fitted, up = monotone_summary(
        x, y, verdict={"peak_label": "lo", "low_label": "lo", "high_label": "hi"}
    )
    assert list(xs) == [0.1, 0.5, 0.9] and not up
    assert fitted == pytest.approx([0.5, 0.45, 0.3])
    _, rising, up = monotone_summary(x, y, verdict={"peak_label": "hi", "high_label": "hi"})
    assert up and rising == pytest.approx([0.4166667, 0.4166667, 0.4166667])


def test_without_a_verdict_the_better_direction_wins() -> None:
    _, fitted, up = monotone_summary(np.array([0.0, 1.0, 2.0]), np.array([0.1, 0.3, 0.2]))
    assert up and fitted == pytest.approx([0.1, 0.25, 0.25])
