"""What checkpointing costs a sweep: the same jobs with checkpointing on (the default,
``checkpoint.every_n_minutes=10``) and off (``null``: only when a signal stops a job),
interleaved in one sweep so that each pair runs back to back under the same load.

``--run`` launches the sweep (``zelo-train -m experiment=laffer checkpoint.every_n_minutes=10,null
...``: the checkpoint setting varies fastest, so the jobs alternate on, off, on, off); then, or on
its own, the sweep folder is read and one JSON line printed (never asserted): the number of pairs
(same miner and seed), the median and mean ± SE of the per-pair ratio on/off of each job's fit
time (``time/fit_s``) and whole time (``time/total_s``), the summed times of each side, and the
load average when the reading was taken.

Usage: python bench/checkpoint_cost.py SWEEP_DIR [--run] [OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

KEY = "checkpoint.every_n_minutes"
SIDES = {"10": "on", "null": "off"}


def launch(sweep_dir: Path, overrides: list[str]) -> None:
    cmd = [
        str(Path(sys.executable).parent / "zelo-train"),
        "-m",
        "experiment=laffer",
        *overrides,
        f"{KEY}={','.join(SIDES)}",
        f"hydra.sweep.dir={sweep_dir}",
        "hydra.callbacks.laffer.wandb=false",
    ]
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def pairs(sweep_dir: Path) -> dict[tuple, dict[str, dict]]:
    """(every override but the checkpoint's) -> side -> that job's metrics."""
    out: dict[tuple, dict[str, dict]] = {}
    for metrics in sweep_dir.glob("*/metrics.json"):
        job = metrics.parent
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        values = dict(o.split("=", 1) for o in overrides)
        side = SIDES.get(values.pop(KEY, ""))
        if side is None:
            continue
        out.setdefault(tuple(sorted(values.items())), {})[side] = json.loads(metrics.read_text())
    return {k: v for k, v in out.items() if len(v) == 2}


def summary(ratios: list[float]) -> dict[str, float]:
    se = statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else math.nan
    return {
        "median": round(statistics.median(ratios), 4),
        "mean": round(statistics.fmean(ratios), 4),
        "se": round(se, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--run", action="store_true", help="launch the sweep first")
    parser.add_argument("overrides", nargs="*", help="more overrides for the sweep")
    args = parser.parse_intermixed_args()
    if args.run:
        launch(args.sweep_dir, args.overrides)
    found = pairs(args.sweep_dir)
    report: dict = {"pairs": len(found), "loadavg_1m": round(os.getloadavg()[0], 2)}
    if not found:
        sys.exit(f"no finished on/off pair in {args.sweep_dir}")
    for key in ("time/fit_s", "time/total_s"):
        on = [p["on"][key] for p in found.values()]
        off = [p["off"][key] for p in found.values()]
        report[f"{key} on/off"] = summary([a / b for a, b in zip(on, off, strict=True)])
        report[f"{key} sum on, off"] = [round(sum(on), 1), round(sum(off), 1)]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
