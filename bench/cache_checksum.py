"""What the embedding cache's checksum costs on a read: ``np.load`` alone against ``np.load`` plus
the full checksum check (a process's first read of an entry) and plus the sampled check (later
reads), on an entry written by ``cached_encode`` itself.

Prints one JSON line per size (never asserted): medians of ``--repeats`` reads from the page
cache, in seconds, and the ratios against the plain load measured in the same run.

Usage: python bench/cache_checksum.py [--rows 5000 200000] [--dim 384] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from zelo.retrieval import cache


class RandomEncoder:
    """Deterministic random rows: the cost under test is the cache's, not an encoder's."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def fingerprint(self) -> str:
        return f"random-{self.dim}"

    def describe(self) -> dict:
        return {"class": "RandomEncoder"}

    def encode(self, texts, batch_size=64, is_query=False, progress=False) -> torch.Tensor:
        g = torch.Generator().manual_seed(len(texts))
        return torch.randn(len(texts), self.dim, generator=g)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(rows: int, dim: int, repeats: int, folder: Path) -> dict:
    texts = [f"t{i}" for i in range(rows)]
    cache.cached_encode(RandomEncoder(dim), texts, folder)
    (path,) = folder.glob("*.npy")
    arr = np.load(path)

    def full() -> None:
        cache._verified.clear()
        assert cache.checksum_problem(path, np.load(path)) is None

    def sampled() -> None:
        assert cache.checksum_problem(path, np.load(path)) is None

    load = median_time(lambda: np.load(path), repeats)
    full_s = median_time(full, repeats)
    full()  # the entry is now known to this process
    sampled_s = median_time(sampled, repeats)
    blocks = -(-rows // cache.CHUNK_ROWS)
    return {
        "rows": rows,
        "dim": dim,
        "mib": round(arr.nbytes / 2**20, 1),
        "blocks": blocks,
        "load_s": round(load, 4),
        "load_full_check_s": round(full_s, 4),
        "load_sampled_check_s": round(sampled_s, 4),
        "full_ratio": round(full_s / load, 2),
        "sampled_ratio": round(sampled_s / load, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 200000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(rows, args.dim, args.repeats, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
