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


def pava(y: np.ndarray, w: np.ndarray, increasing: bool) -> np.ndarray:
    """Pool adjacent violators in a plain loop: the reference (zelo's own fit before scipy's)."""
    sign = 1.0 if increasing else -1.0
    means, weights, sizes = [], [], []
    for value, weight in zip(sign * y, w, strict=True):
        means.append(float(value))
        weights.append(float(weight))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            total = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / total
            weights[-2] = total
            sizes[-2] += sizes[-1]
            del means[-1], weights[-1], sizes[-1]
    return sign * np.repeat(means, sizes)


def test_scipys_fit_equals_the_plain_pool_adjacent_violators() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = int(rng.integers(1, 12))
        y = np.round(rng.normal(size=k), 1)  # rounded: ties
        w = rng.integers(1, 6, size=k).astype(float)
        for increasing in (True, False):
            np.testing.assert_allclose(
                isotonic(y, w, increasing), pava(y, w, increasing), atol=1e-12
            )
