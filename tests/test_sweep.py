"""A real Hydra multirun in a subprocess: one job (and one metrics.json) per combination."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_grid_sweep_runs_every_job(tmp_path: Path, cache_dir: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "miner=random,topk",
        "seed=0,1",
        "debug=tiny",
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={cache_dir}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = sorted(sweep.glob("*/metrics.json"))
    assert len(metrics) == 4, [str(p) for p in sweep.iterdir()]
    seen = set()
    for path in metrics:
        m = json.loads(path.read_text())
        seen.add((m["run/miner"], m["run/seed"]))
        assert (path.parent / ".hydra" / "overrides.yaml").exists()
    assert seen == {("random", 0), ("random", 1), ("topk", 0), ("topk", 1)}
