"""The adaptive miner: picks its hardness every epoch from the student's dev nDCG@10.

The dial is the oracle's intelligence ``x`` (:mod:`zelo.mining.oracle`), on a ladder of levels from
``x = 0`` (noise ranking: random negatives) to ``x = 1`` (the graded order: hidden positives
first). It is the one dial that moves a miner along the Laffer curve's axis: ``x`` sets the
measured ``miner/ndcg@10`` to ``r0 + x (1 - r0)`` on any collection, while PercPos or a shift
change which of a fixed scorer's candidates are kept, not its ranking, so its measured
intelligence stays put. The oracle reads the full judgments of the *training* queries only.

The rule is a hill climb on the ladder (the "bold driver" rule for step sizes, applied to
hardness): after each epoch, if the dev nDCG@10 rose by more than ``tolerance`` over the epoch
just trained, take one more step the same way; otherwise turn back and step the other way
(inwards, at an end of the ladder). It starts at the easiest level and goes harder, so hard
negatives are kept only while the student still gains from them on the dev split. The miner sees the dev metric the DataModule hands to
:meth:`AdaptiveMiner.feedback` (the zero-shot value before the first pass, then the value after
each epoch) and nothing else of the evaluation splits.

References:
    Vogl et al., Accelerating the convergence of the back-propagation method, Biological
    Cybernetics 59 (1988) 257-263 (the "bold driver" rule).
    Moreira et al., NV-Retriever, arXiv:2407.15831 (false negatives among the hardest negatives).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from zelo.mining.base import MinedNegatives, MiningInput
from zelo.mining.oracle import OracleScorer
from zelo.mining.topk import TopKMiner

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


class AdaptiveMiner(TopKMiner):
    """Top-k under an oracle whose intelligence a hill climb on the dev nDCG@10 sets each epoch.

    Args:
        levels: the hardness ladder, oracle intelligences ``x`` in ``[0, 1]``, increasing.
        start: the level of the first mining pass (one of ``levels``).
        tolerance: smallest dev nDCG@10 gain that counts as an improvement.
        noise: noise distribution of the oracle.
        seed_offset: added to the mining seed for the noise draws.
        depth: candidates taken per query (K).
        sampling: ``"top"``, ``"uniform"`` or ``"simans"`` (see :class:`~zelo.mining.base.Miner`).
        exclude_positives: drop the query's labelled positives.
        range_max: sample among the first ``range_max`` kept candidates only (``None``: all).
        simans_a: SimANS sharpness (``sampling="simans"``).
        simans_b: SimANS peak offset (``sampling="simans"``).

    References:
        Vogl et al., Biological Cybernetics 59 (1988) (the "bold driver" rule).
    """

    name = "adaptive"
    mine_every_n_epochs = 1  # the DataModule re-mines every epoch, after calling feedback()

    def __init__(
        self,
        levels: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        start: float = 0.0,
        tolerance: float = 0.0,
        noise: str = "gaussian",
        seed_offset: int = 0,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        self.levels = [float(x) for x in levels]
        if not self.levels or any(
            b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)
        ):
            raise ValueError(f"miner.levels must be increasing and non-empty, got {self.levels}")
        if float(start) not in self.levels:
            raise ValueError(f"miner.start must be one of miner.levels, got {start}")
        self.level = self.levels.index(float(start))
        self.direction = 1
        self.tolerance = tolerance
        self.noise = noise
        self.seed_offset = seed_offset
        self._last: tuple[int, float] | None = None  # (epoch, dev nDCG@10) of the last feedback
        scorer = OracleScorer(self.hardness, noise, seed_offset)  # validates levels and noise
        super().__init__(scorer, depth, sampling, exclude_positives, range_max, simans_a, simans_b)

    @property
    def hardness(self) -> float:
        """The oracle intelligence of the next mining pass."""
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
                "adaptive: dev nDCG@10 %.4f (gain %+.4f) -> hardness %.2f for epoch %d",
                value,
                gain,
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
        """Mine at the current hardness; the result's ``info`` records the choice."""
        self.scorer = OracleScorer(self.hardness, self.noise, self.seed_offset)
        result = super().mine(inp)
        result.info.update(
            {
                "hardness": self.hardness,
                "adaptive_arm": float(self.level),
                "adaptive_feedback": math.nan if self._last is None else self._last[1],
            }
        )
        return result
