"""Progress of a long encode as log lines, not bars: its size and ETA once the first batch has
run, then a line a minute. Log lines reach the job's log file and never share a terminal line
with Lightning's progress bar."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("zelo.progress")

ANNOUNCE_AFTER_S = 20.0  # encodes expected to take longer than this are announced
EVERY_S = 60.0  # then one line per this many seconds


def duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def eta_seconds(done_tokens: int, total_tokens: int, elapsed: float) -> float:
    """Seconds left at the rate so far (tokens per second), ``inf`` before any progress.

    Args:
        done_tokens: tokens (padded positions) encoded so far.
        total_tokens: tokens of the whole encode.
        elapsed: seconds spent on ``done_tokens``.
    """
    if done_tokens <= 0 or elapsed <= 0:
        return float("inf")
    return max(total_tokens - done_tokens, 0) * elapsed / done_tokens


class EncodeProgress:
    """Announces and follows one encode of ``total`` texts.

    Cost is counted in padded token positions, so the first batch (the longest texts, batches
    are sorted by length) gives a cautious rate for the rest.

    Args:
        what: the texts, e.g. ``"documents"``.
        total: how many.
        encoder: the encoder's name, e.g. ``"all-MiniLM-L6-v2"``.
        note: appended to the announcement, e.g. ``"cached for later runs"``.
        announce_after_s: announce only when the estimate exceeds this.
    """

    def __init__(
        self,
        what: str,
        total: int,
        encoder: str,
        note: str = "",
        announce_after_s: float = ANNOUNCE_AFTER_S,
    ) -> None:
        self.what, self.total, self.encoder, self.note = what, total, encoder, note
        self.announce_after_s = announce_after_s
        self.texts = 0
        self.tokens = 0
        self.total_tokens = 0
        self.start = 0.0
        self.announced = False
        self.last_line = 0.0

    def begin(self, tokens: int, texts: int) -> None:
        """A part of ``texts`` texts costing ``tokens`` starts; the first part starts the clock
        and sets the whole encode's cost (scaled up when the texts come in several parts)."""
        if self.start:
            return
        self.total_tokens = round(tokens * self.total / max(texts, 1))
        self.start = self.last_line = time.perf_counter()

    def step(self, texts: int, tokens: int) -> None:
        """One batch done: ``texts`` texts, ``tokens`` padded positions."""
        self.texts += texts
        self.tokens += tokens
        now = time.perf_counter()
        elapsed = now - self.start
        left = eta_seconds(self.tokens, self.total_tokens, elapsed)
        if not self.announced and self.texts < self.total:
            self.announced = True  # decided once, after the first batch
            if elapsed + left > self.announce_after_s:
                rate = self.total / (elapsed + left)
                note = f"; {self.note}" if self.note else ""
                log.info(
                    "encoding %s %s with %s at ~%s %s/s: about %s%s",
                    f"{self.total:,}", self.what, self.encoder, _rate(rate), _unit(self.what),
                    duration(elapsed + left), note,
                )  # fmt: skip
                self.last_line = now
            else:
                self.announce_after_s = float("inf")  # short: stay quiet
        elif self.announce_after_s < float("inf") and now - self.last_line >= EVERY_S:
            log.info(
                "encoded %s of %s %s (%.0f%%), about %s left",
                f"{self.texts:,}", f"{self.total:,}", self.what,
                100 * self.texts / max(self.total, 1), duration(left),
            )  # fmt: skip
            self.last_line = now


def _rate(per_second: float) -> str:
    return f"{per_second:.0f}" if per_second >= 10 else f"{per_second:.1f}"


def _unit(what: str) -> str:
    return {"documents": "docs"}.get(what, what)
