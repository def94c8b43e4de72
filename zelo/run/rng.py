"""The global random state: reseeded per epoch, saved in checkpoints, restored on resume."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def reseed(seed: int, epoch: int) -> None:
    """Seed torch (every device), numpy and Python from ``(seed, epoch)`` alone."""
    value = (seed * 1_000_003 + epoch) % 2**32
    torch.manual_seed(value)
    np.random.seed(value)
    random.seed(value)


def rng_state() -> dict[str, Any]:
    """The random state of torch (CPU and CUDA), numpy and Python, in types a weights-only
    ``torch.load`` accepts (tensors, lists, numbers, strings)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": [version, list(internal), py_gauss],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, py_gauss = state["python"]
    random.setstate((version, tuple(internal), py_gauss))
