"""A monotone summary of a curve: weighted isotonic regression (scipy's pool adjacent violators).

Drawn on laffer.png in place of the quadratic when the verdict finds no interior maximum: it
follows the means without inventing a bend the data do not show.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def isotonic(y: np.ndarray, w: np.ndarray | None = None, increasing: bool = True) -> np.ndarray:
    """Weighted least-squares fit to ``y`` (already ordered by x) under a monotone constraint:
    ``scipy.optimize.isotonic_regression`` (pool adjacent violators).

    Args:
        y: values ordered by their x, shape ``[N]``.
        w: positive weights ``[N]`` (e.g. seeds per point); ones by default.
        increasing: non-decreasing fit when True, non-increasing otherwise.

    Returns:
        The fitted values ``[N]``.
    """
    from scipy.optimize import isotonic_regression

    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=float)
    if y.size == 0:
        return y
    return isotonic_regression(y, weights=w, increasing=increasing).x


def monotone_summary(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, verdict: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The isotonic fit of the points in the direction the verdict reads.

    The direction is rising when the best point is the highest-intelligence one, falling when it
    is the lowest; otherwise (a non-significant interior best point, or no verdict) whichever of
    the two fits has the smaller weighted squared error (falling on a tie).

    Args:
        x: positions ``[N]`` (any order).
        y: values ``[N]``.
        w: weights ``[N]``.
        verdict: :func:`zelo.analysis.laffer.peak_verdict`'s record (``peak_label``,
            ``low_label``, ``high_label``), or None.

    Returns:
        ``(x_sorted, fitted, increasing)``.
    """
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    xs = np.asarray(x, dtype=float)[order]
    ys = np.asarray(y, dtype=float)[order]
    ws = np.ones_like(ys) if w is None else np.asarray(w, dtype=float)[order]
    verdict = verdict or {}
    peak = verdict.get("peak_label")
    if peak is not None and peak == verdict.get("high_label"):
        return xs, isotonic(ys, ws, increasing=True), True
    if peak is not None and peak == verdict.get("low_label"):
        return xs, isotonic(ys, ws, increasing=False), False
    up, down = isotonic(ys, ws, True), isotonic(ys, ws, False)
    sse_up, sse_down = float(ws @ (ys - up) ** 2), float(ws @ (ys - down) ** 2)
    return (xs, up, True) if sse_up < sse_down else (xs, down, False)
