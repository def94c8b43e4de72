"""The adaptive miner: one knob of a base miner, set every epoch by a climb on the dev nDCG@10.

The knob is a dotted path into the base miner: ``scorer.<attribute>`` (e.g. the oracle's
``scorer.intelligence``) or ``rules.<rule>.<parameter>`` (e.g. ``rules.shift.shift``). Its values
form a ladder of ``levels``, easiest first.

The rule is a hill climb on the ladder (the "bold driver" rule for step sizes, applied to
hardness): after each epoch, if the dev nDCG@10 rose by more than ``tolerance`` over the epoch
just trained, take one more step the same way; otherwise turn back and step the other way
(inwards, at an end of the ladder). It starts at ``start`` and goes harder, so hard negatives are
kept only while the student still gains from them on the dev split. The miner sees the dev metric
handed to :meth:`AdaptiveMiner.feedback` (the zero-shot value before the first pass, then the
value after each epoch) and nothing else of the evaluation splits. Whether it is a method or an
upper bound depends on its base: over the oracle it reads the training judgments.

References:
    Vogl et al., Accelerating the convergence of the back-propagation method, Biological
    Cybernetics 59 (1988) 257-263 (the "bold driver" rule).
    Moreira et al., NV-Retriever, arXiv:2407.15831 (false negatives among the hardest negatives).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence

from zelo.mining.base import Miner
from zelo.types import MinedNegatives, MiningInput

log = logging.getLogger(__name__)


def hill_climb(
    level: int, direction: int, gain: float, num_levels: int, tolerance: float = 0.0
) -> tuple[int, int]:
    """One step of the hardness hill climb.

    Args:
        level: index of the level just trained on (0 = easiest).
        direction: ``+1`` (harder) or ``-1`` (easier), the way the climb is going.
        gain: dev nDCG@10 after the epoch at ``level`` minus before it; NaN: not measured.
        num_levels: number of levels on the ladder.
        tolerance: smallest gain (nDCG points) that counts as an improvement.

    Returns:
        ``(next level, direction)``: one more step the same way when ``gain > tolerance`` (staying
        put at the end of the ladder); otherwise the direction flips and the step goes the other
        way, unless that leaves the ladder (a level at the end that did not help): then the step
        goes inwards. A NaN gain changes nothing.
    """
    if direction not in (-1, 1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if math.isnan(gain):
        return level, direction
    if gain <= tolerance:
        direction = -direction
        if not 0 <= level + direction < num_levels:  # no way back: inwards is the only move
            direction = -direction
    return min(max(level + direction, 0), num_levels - 1), direction


def set_knob(miner: Miner, knob: str, value: float) -> None:
    """Set ``scorer.<attr>`` or ``rules.<rule>.<param>`` of ``miner`` to ``value``.

    Raises:
        ValueError: the path names no existing attribute or rule parameter.
    """
    head, _, rest = knob.partition(".")
    if head == "scorer" and rest and "." not in rest and hasattr(miner.scorer, rest):
        setattr(miner.scorer, rest, type(getattr(miner.scorer, rest))(value))
        return
    rule, _, param = rest.partition(".")
    partial = miner.rules.get(rule) if head == "rules" else None
    if isinstance(partial, functools.partial) and param in partial.keywords:
        kw = {**partial.keywords, param: type(partial.keywords[param])(value)}
        miner.rules[rule] = functools.partial(partial.func, *partial.args, **kw)
        return
    raise ValueError(
        f"miner.knob {knob!r} is neither scorer.<attribute> nor rules.<rule>.<parameter> of the "
        f"base miner (rules: {sorted(miner.rules)})"
    )


class AdaptiveMiner(Miner):
    """A base miner whose knob a hill climb on the dev nDCG@10 sets before each pass.

    Args:
        base: the miner whose scorer, rules and sampling are used.
        knob: dotted path of the knob (see :func:`set_knob`).
        levels: the knob's values, easiest first.
        start: the level of the first mining pass (one of ``levels``).
        tolerance: smallest dev nDCG@10 gain that counts as an improvement.

    References:
        Vogl et al., Biological Cybernetics 59 (1988) (the "bold driver" rule).
    """

    adaptive = True

    def __init__(
        self,
        base: Miner,
        knob: str,
        levels: Sequence[float],
        start: float,
        tolerance: float = 0.0,
    ) -> None:
        super().__init__(
            base.scorer,
            base.rules,
            base.sampling,
            base.depth,
            base.exclude_positives,
            base.drop_judged,
            mine_every_n_epochs=1,  # re-mine every epoch, after feedback()
            drop_min_grade=base.drop_min_grade,
        )
        self.levels = [float(x) for x in levels]
        if not self.levels or len(set(self.levels)) < len(self.levels):
            raise ValueError(f"miner.levels must be distinct and non-empty, got {self.levels}")
        if float(start) not in self.levels:
            raise ValueError(f"miner.start must be one of miner.levels, got {start}")
        self.knob = knob
        self.level = self.levels.index(float(start))
        self.direction = 1
        self.tolerance = tolerance
        self._last: tuple[int, float] | None = None  # (epoch, dev nDCG@10) of the last feedback
        for value in (*self.levels, self.hardness):  # validates the path and every level
            set_knob(self, knob, value)

    @property
    def hardness(self) -> float:
        """The knob's value for the next mining pass."""
        return self.levels[self.level]

    def feedback(self, epoch: int, value: float) -> None:
        """Take the dev nDCG@10 measured before mining ``epoch`` and choose that pass's level.

        Args:
            epoch: the epoch about to be mined; a second call for the same epoch is ignored.
            value: dev nDCG@10 after epoch ``epoch - 1`` (the zero-shot value for epoch 0).
        """
        if self._last is not None and epoch <= self._last[0]:
            return
        if self._last is not None:
            gain = float(value) - self._last[1]
            self.level, self.direction = hill_climb(
                self.level, self.direction, gain, len(self.levels), self.tolerance
            )
            log.info(
                "adaptive: dev nDCG@10 %.4f (gain %+.4f) -> %s = %g for epoch %d",
                value,
                gain,
                self.knob,
                self.hardness,
                epoch,
            )
        self._last = (epoch, float(value))

    def state_dict(self) -> dict:
        """The climb's state (level, direction, last feedback), saved in training checkpoints."""
        return {
            "levels": list(self.levels),
            "level": self.level,
            "direction": self.direction,
            "last": None if self._last is None else [self._last[0], self._last[1]],
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume the climb where a checkpoint left it.

        Raises:
            ValueError: the checkpoint was taken with other ``miner.levels``.
        """
        if [float(x) for x in state["levels"]] != self.levels:
            raise ValueError(
                f"miner.levels {self.levels} differ from the checkpoint's {state['levels']}"
            )
        self.level, self.direction = int(state["level"]), int(state["direction"])
        last = state.get("last")
        self._last = None if last is None else (int(last[0]), float(last[1]))

    def mine(self, inp: MiningInput) -> MinedNegatives:
        """Mine at the current level; the result's ``info`` records the choice."""
        set_knob(self, self.knob, self.hardness)
        result = super().mine(inp)
        result.info.update(
            {
                "hardness": self.hardness,
                "adaptive_arm": float(self.level),
                "adaptive_feedback": math.nan if self._last is None else self._last[1],
            }
        )
        return result
