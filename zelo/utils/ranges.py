"""Valid ranges of config values: a check and the words that say what a valid value is.

:mod:`zelo.run.validation` checks the run's keys with them, and a rule module declares the ranges
of its own arguments in ``RANGES`` (argument name -> :class:`Rule`), found from its ``_target_``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """A range rule: ``check(value)`` must hold; ``expect`` says what a valid value is."""

    check: Callable[[Any], bool]
    expect: str
    optional: bool = False  # null is valid


def is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def at_least(low: int) -> Rule:
    return Rule(lambda x: is_int(x) and x >= low, f"an integer >= {low}")


def positive() -> Rule:
    return Rule(lambda x: is_num(x) and x > 0, "a finite number > 0")


def between(low: float, high: float, high_open: bool = False) -> Rule:
    bracket = ")" if high_open else "]"
    return Rule(
        lambda x: is_num(x) and low <= x and (x < high if high_open else x <= high),
        f"a number in [{low:g}, {high:g}{bracket}",
    )


def optional(rule: Rule) -> Rule:
    return Rule(rule.check, f"{rule.expect} or null", optional=True)
