"""Point labels that do not overlap: a greedy placement in display space (adjustText-like).

Each label is a box of known size; it goes to the first of a ring of candidate positions around
its point that overlaps nothing already placed (other labels, every point's marker), else to the
candidate with the least overlap. :func:`label_points` applies it to matplotlib annotations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# candidate directions, tried in order: right, up-right, up, up-left, left, down-left, down, ...
DIRECTIONS = np.array(
    [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)], dtype=float
)
RINGS = (1.0, 2.0, 3.5)  # distances from the point, in multiples of the gap


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap areas of box ``a`` with each of the boxes ``b``.

    Args:
        a: one box ``[4]`` as ``(x0, y0, x1, y1)``.
        b: boxes ``[M, 4]``.

    Returns:
        ``[M]`` areas, 0 where they do not meet.
    """
    if len(b) == 0:
        return np.zeros(0)
    w = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    h = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def candidate_centres(point: np.ndarray, size: np.ndarray, gap: float) -> np.ndarray:
    """Centres ``[C, 2]`` of a label of ``size`` (w, h) around ``point``, ring by ring."""
    half = size / 2 + gap
    return np.concatenate([point + DIRECTIONS * half * r for r in RINGS])


def place_labels(
    points: np.ndarray, sizes: np.ndarray, gap: float = 3.0, marker: float = 4.0
) -> np.ndarray:
    """Centres for labels ``sizes[i]`` next to ``points[i]`` such that no two overlap if possible.

    Args:
        points: anchor points ``[N, 2]`` (display units, e.g. pixels).
        sizes: label widths and heights ``[N, 2]`` in the same units.
        gap: distance kept between a label and its point.
        marker: half-size of the square each point's marker occupies.

    Returns:
        Label centres ``[N, 2]``, placed in input order (earlier labels get the nearer spots).
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    markers = np.hstack([points - marker, points + marker])  # [N, 4]
    placed = np.zeros((0, 4))
    centres = np.zeros_like(points)
    for i, (point, size) in enumerate(zip(points, sizes, strict=True)):
        candidates = candidate_centres(point, size, gap)
        boxes = np.hstack([candidates - size / 2, candidates + size / 2])
        cost = [overlap(box, placed).sum() + overlap(box, markers).sum() for box in boxes]
        best = int(np.argmin(cost))  # the first of equal costs: nearest ring, preferred side
        centres[i] = candidates[best]
        placed = np.vstack([placed, boxes[best]])
    return centres


def label_points(fig: Any, groups: list[tuple[Any, list[float], list[float], list[str]]]) -> list:
    """Annotate the points of several axes with texts at non-overlapping places.

    Lays the figure out once (so the display positions are final), measures each text, places
    each axes' boxes with :func:`place_labels` and offsets the annotations accordingly. The
    annotations stay out of the layout, so adding them does not move the axes.

    Args:
        fig: the figure.
        groups: ``(ax, xs, ys, texts)`` per axes, in data coordinates.

    Returns:
        The annotations (``gid="point-label"``).
    """
    groups = [g for g in groups if g[3]]
    if not groups:
        return []
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax, xs, ys, texts in groups:
        anchors = ax.transData.transform(np.column_stack([xs, ys]))  # [N, 2] pixels
        notes = [_note(ax, x, y, text) for x, y, text in zip(xs, ys, texts, strict=True)]
        extents = (n.get_window_extent(renderer) for n in notes)
        sizes = np.array([[e.width, e.height] for e in extents])
        centres = place_labels(anchors, sizes, gap=2.0 * fig.dpi / 72, marker=3.0 * fig.dpi / 72)
        for note, anchor, centre in zip(notes, anchors, centres, strict=True):
            note.xyann = tuple((centre - anchor) * 72 / fig.dpi)  # pixels -> points
        out += notes
    return out


def _note(ax: Any, x: float, y: float, text: str) -> Any:
    note = ax.annotate(
        text,
        (x, y),
        xytext=(0, 0),
        textcoords="offset points",
        fontsize=7,
        ha="center",
        va="center",
        gid="point-label",
        annotation_clip=False,
    )
    note.set_in_layout(False)
    return note
