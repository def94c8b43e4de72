"""A killed sweep loses nothing: rerunning the command resumes it to the same results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def sweep_cmd(sweep: Path, cache_dir: Path) -> list[str]:
    return [
        sys.executable,
        "train.py",
        "-m",
        "experiment=laffer",
        "debug=tiny",
        "model=static",
        "model.encoder.max_length=64",
        "miner=random,topk",
        "seed=0",
        "trainer.max_epochs=4",
        "save_student=false",
        "checkpoint.every_n_minutes=0.0001",  # a checkpoint at every batch, to be killed after
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={cache_dir}",
        "hydra.callbacks.laffer.wandb=false",
    ]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def kill_mid_second_job(cmd: list[str], sweep: Path) -> None:
    """Start the sweep and SIGKILL it once the second job has a checkpoint but no results."""
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            ckpts = list(sweep.glob("*miner=topk*/checkpoints/last.ckpt"))
            if ckpts and not (ckpts[0].parents[1] / "metrics.json").exists():
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"


def results(sweep: Path) -> pd.DataFrame:
    df = pd.read_csv(sweep / "results.csv")
    return df.drop(columns=["wall_s"])


@pytest.mark.slow
def test_killed_sweep_resumes_to_the_same_results(tmp_path: Path, cache_dir: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run(sweep_cmd(reference, cache_dir))
    kill_mid_second_job(sweep_cmd(killed, cache_dir), killed)
    first = next(killed.glob("*miner=random*/metrics.json"))
    done_before = first.read_text()
    assert not list(killed.glob("*miner=topk*/metrics.json"))
    rerun = run(sweep_cmd(killed, cache_dir))
    log = rerun.stdout + rerun.stderr
    assert "already done, skipping" in log
    assert "resuming the interrupted job" in log
    assert first.read_text() == done_before  # finished work is never redone or rewritten
    pd.testing.assert_frame_equal(results(killed), results(reference))
