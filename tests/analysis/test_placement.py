"""Point labels placed without overlaps (greedy, in display space)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zelo.analysis.placement import label_points, overlap, place_labels


def _boxes(centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return np.hstack([centres - sizes / 2, centres + sizes / 2])


def test_overlap_areas() -> None:
    a = np.array([0.0, 0.0, 2.0, 2.0])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    assert overlap(a, b) == pytest.approx([1.0, 0.0, 0.0])


def test_first_label_goes_right_of_its_point() -> None:
    centres = place_labels(np.array([[100.0, 100.0]]), np.array([[10.0, 6.0]]), gap=2, marker=1)
    assert centres[0] == pytest.approx([100 + 5 + 2, 100])


def test_labels_of_one_spot_do_not_overlap() -> None:
    points = np.array([[50.0, 50.0]] * 4 + [[56.0, 50.0]])
    sizes = np.array([[12.0, 8.0]] * 5)
    boxes = _boxes(place_labels(points, sizes, gap=2, marker=3), sizes)
    for a, b in itertools.combinations(boxes, 2):
        assert overlap(a, b[None])[0] == 0
    markers = np.hstack([points - 3, points + 3])
    assert all(overlap(box, markers).sum() == 0 for box in boxes)


def test_annotations_on_a_figure_do_not_overlap() -> None:
    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = [0.0, 0.001, 0.002, 0.5, 0.501, 1.0]
    ys = [0.4, 0.4, 0.401, 0.45, 0.45, 0.3]
    ax.plot(xs, ys, "o")
    notes = label_points(fig, [(ax, xs, ys, [str(i + 10) for i in range(len(xs))])])
    fig.canvas.draw()
    extents = [n.get_window_extent() for n in notes]
    assert all(n.get_gid() == "point-label" for n in notes)
    for a, b in itertools.combinations(extents, 2):
        assert not a.overlaps(b), (a, b)
