"""A training DataLoader that continues an epoch where a checkpoint left it.

Lightning saves ``state_dict()`` of a stateful train loader in its checkpoints and hands it back
through ``load_state_dict`` before iterating again, so a job resumed mid-epoch skips the batches it
has already trained on instead of starting the epoch over (the order itself is reproducible:
:class:`zelo.data.batches.EpochShuffleSampler` depends only on the seed and the epoch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """A :class:`DataLoader` that counts the batches it served in the current pass and can skip
    that many at the start of the next one (the skipped batches are still read, then dropped)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._served = 0
        self._skip = 0

    def __iter__(self) -> Iterator[Any]:
        skip, self._skip = self._skip, 0
        self._served = 0
        for i, batch in enumerate(super().__iter__()):
            if i < skip:
                continue
            self._served = i + 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Batches of the current pass already served."""
        return {"served": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Skip ``state["served"]`` batches at the start of the next pass."""
        self._skip = int(state.get("served", 0))
        self._served = self._skip
