"""A long encode is announced once, with its size and ETA, and followed in the log."""

from __future__ import annotations

import logging

from zelo.utils import progress
from zelo.utils.progress import EncodeProgress, duration, eta_seconds


def test_eta_and_durations() -> None:
    assert eta_seconds(100, 400, 10.0) == 30.0  # 100 tokens in 10 s: 300 left take 30 s
    assert eta_seconds(0, 400, 10.0) == float("inf")
    assert [duration(s) for s in (42, 420, 9000)] == ["42 s", "7 min", "2.5 h"]


def test_a_long_encode_is_announced_after_its_first_batch(monkeypatch, caplog) -> None:
    clock = iter([0.0, 10.0, 75.0, 80.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    p = EncodeProgress("documents", 400, "all-MiniLM-L6-v2", "cached for later runs")
    with caplog.at_level(logging.INFO, logger="zelo.progress"):
        p.begin(tokens=4000, texts=400)  # t = 0
        p.step(100, 1000)  # t = 10: a quarter of the tokens in 10 s -> 40 s in all
        p.step(100, 1000)  # t = 75: a minute after the announcement -> one progress line
        p.step(200, 2000)  # t = 80: done, no line
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        "encoding 400 documents with all-MiniLM-L6-v2 at ~10 docs/s: about 40 s; "
        "cached for later runs"
    )
    assert lines[1].startswith("encoded 200 of 400 documents (50%), about") and len(lines) == 2


def test_a_short_encode_stays_quiet(monkeypatch, caplog) -> None:
    clock = iter([0.0, 1.0, 5.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    p = EncodeProgress("queries", 100, "x")
    with caplog.at_level(logging.INFO, logger="zelo.progress"):
        p.begin(tokens=100, texts=100)
        p.step(50, 50)
        p.step(50, 50)
    assert caplog.records == []
