"""Compare two sweep folders job by job: the same figures to the last digit, or where they differ.

    python bench/compare_sweeps.py outputs/base_miners outputs/after_miners
    python bench/compare_sweeps.py A B --keys test/ndcg@10 mining/fn_rate --tolerance 1e-6

Jobs are matched by their folder name (Hydra's override subdir, minus a leading job number);
prints one row per job with each key's value in A, the |difference|, and the maximum |difference|
over all jobs. Exit status 1 when a job is missing on one side or a difference exceeds the
tolerance.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from zelo.keys import FN_RATE, METRICS_FILE, MINER_NDCG, TEST_NDCG

KEYS = (TEST_NDCG, FN_RATE, MINER_NDCG)


def jobs(sweep: Path) -> dict[str, dict]:
    """Job name (the override subdir without its leading ``N_``) -> its ``metrics.json``."""
    out = {}
    for path in sorted(sweep.glob(f"*/{METRICS_FILE}")):
        name = re.sub(r"^\d+_", "", path.parent.name)
        out[name] = json.loads(path.read_text())
    return out


def compare(a: Path, b: Path, keys: tuple[str, ...], tolerance: float) -> int:
    left, right = jobs(a), jobs(b)
    missing = sorted(left.keys() ^ right.keys())
    worst = 0.0
    print(f"{'job':62s} " + " ".join(f"{k:>24s} {'|diff|':>8s}" for k in keys))
    for name in sorted(left.keys() & right.keys()):
        cells = []
        for key in keys:
            x, y = left[name].get(key), right[name].get(key)
            if x is None or y is None:
                diff = 0.0 if x is None and y is None else math.inf
            else:
                diff = abs(float(x) - float(y))
            worst = max(worst, diff)
            cells.append(f"{'' if x is None else f'{x:.10f}':>24s} {diff:8.1e}")
        print(f"{name[:62]:62s} " + " ".join(cells))
    print(f"jobs compared: {len(left.keys() & right.keys())}; max |diff| {worst:.3g}")
    if missing:
        print(f"jobs on one side only: {missing}")
    return 0 if worst <= tolerance and not missing else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path, help="the reference sweep folder")
    parser.add_argument("b", type=Path, help="the sweep folder to check against it")
    parser.add_argument("--keys", nargs="+", default=list(KEYS))
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args(argv)
    return compare(args.a, args.b, tuple(args.keys), args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
