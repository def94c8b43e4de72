"""Runs a researcher can trust, end to end in subprocesses: killed and stopped jobs resume to the
same results, concurrent launches train each job once, failed jobs fail loudly, and a job
preempted under submitit is requeued and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SUPPORT = REPO / "tests" / "support"  # pause.PauseAtStep: holds a run so a signal lands on time
# three epochs of three batches; a checkpoint after every batch (the time limit is ~6 ms)
TINY = ["debug=tiny", "trainer.max_epochs=3", "checkpoint.every_n_minutes=0.0001"]
VARIABLE = ("time/", "mining/seconds")  # wall times: the only figures allowed to differ


def train_cmd(*args: str) -> list[str]:
    return [sys.executable, "train.py", *args]


def paused_at(step: int) -> list[str]:
    """Overrides that hold the run at the start of the batch after ``step`` until the release
    file of :func:`support_env` exists."""
    return ["+callbacks.pause._target_=pause.PauseAtStep", f"+callbacks.pause.step={step}"]


def support_env(release: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PAUSE_RELEASE": str(release)}


def run(cmd: list[str], check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def stop_at_step(cmd: list[str], job_dir: Path, step: int, sig: int) -> subprocess.Popen:
    """Start ``cmd`` held after ``step`` (see :func:`paused_at`), send ``sig`` to its process
    group once ``last.ckpt`` is at ``step``, then let it go on."""
    release = job_dir.parent / f"{job_dir.name}.release"
    proc = subprocess.Popen(
        [*cmd, *paused_at(step)],
        cwd=REPO,
        env=support_env(release),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ckpt = job_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if ckpt.exists() and saved_step(ckpt) == step:
            os.killpg(proc.pid, sig)
            break
        time.sleep(0.01)
    release.touch()
    return proc


def rerun(cmd: list[str], job_dir: Path, step: int) -> subprocess.CompletedProcess:
    """The same command again (held at nothing now: its release file exists), so that the same
    config resumes the job."""
    release = job_dir.parent / f"{job_dir.name}.release"
    return run([*cmd, *paused_at(step)], env=support_env(release))


def saved_step(ckpt: Path) -> int | None:
    try:  # written atomically: any file there is whole
        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])
    except (OSError, RuntimeError, EOFError):
        return None


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict:
    """The metrics of the tiny run, never interrupted."""
    reference = tmp_path_factory.mktemp("reference")
    run(train_cmd(*TINY, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={reference}"))
    return stable(reference / "metrics.json")


def stable(metrics_path: Path) -> dict:
    metrics = json.loads(metrics_path.read_text())
    return {k: v for k, v in metrics.items() if not k.startswith(VARIABLE)}


@pytest.mark.slow
def test_killed_and_stopped_runs_resume_to_the_uninterrupted_results(
    tmp_path: Path, cache_dir: Path, expected: dict
) -> None:
    args = [*TINY, f"paths.cache_dir={cache_dir}"]

    killed = tmp_path / "killed"  # SIGKILL after the first batch of the second epoch
    proc = stop_at_step(train_cmd(*args, f"hydra.run.dir={killed}"), killed, 4, signal.SIGKILL)
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL and not (killed / "metrics.json").exists()
    again = rerun(train_cmd(*args, f"hydra.run.dir={killed}"), killed, 4)
    assert "resuming the interrupted job" in again.stdout + again.stderr
    assert stable(killed / "metrics.json") == expected

    stopped = tmp_path / "stopped"  # SIGTERM: checkpoint at the batch end, exit 143, one line
    proc = stop_at_step(train_cmd(*args, f"hydra.run.dir={stopped}"), stopped, 4, signal.SIGTERM)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 143, out[-3000:]
    assert "stopped by SIGTERM during training (epoch 1, step 5)" in out
    assert "rerun the same command to resume" in out and "Traceback" not in out
    assert not (stopped / "metrics.json").exists()
    rerun(train_cmd(*args, f"hydra.run.dir={stopped}"), stopped, 4)
    assert stable(stopped / "metrics.json") == expected


@pytest.mark.slow
def test_two_concurrent_launches_train_each_job_once(tmp_path: Path, cache_dir: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = train_cmd(
        "-m",
        "miner=random,topk",
        "seed=0,1",
        "debug=tiny",
        "callbacks=none",
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={cache_dir}",
    )
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    jobs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 4
    trained = [line for log in logs for line in log.splitlines() if "mining pass (epoch 0" in line]
    skipped = [line for log in logs for line in log.splitlines() if "skipping it here" in line]
    assert len(trained) == 4, "a job was trained twice (or not at all)"
    assert skipped, "the launches never met: the test proves nothing"
    for log in logs:  # quiet, single lines
        assert "job 1/4" in log and "job 4/4" in log
        assert "swigfaiss" not in log and "anonymous" not in log and "💡" not in log
        assert "INFO: GPU available" not in log  # Lightning's own handler prints no copy


@pytest.mark.slow
def test_a_sweep_goes_on_past_failed_jobs_and_ends_non_zero(
    tmp_path: Path, cache_dir: Path
) -> None:
    sweep = tmp_path / "sweep"
    proc = run(
        train_cmd(
            "-m",
            "model.lr=0.001,1e30,inf",
            "miner=random",
            "debug=tiny",
            "callbacks=none",
            "hydra/callbacks=laffer",
            "hydra.callbacks.laffer.wandb=false",
            f"hydra.sweep.dir={sweep}",
            f"paths.cache_dir={cache_dir}",
        ),
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 3, log[-3000:]  # the worst failure: a diverged run
    assert "model.lr=inf is invalid" in log and "training diverged" in log
    assert "2 job(s) failed" in log
    done = [p.parent.name for p in sweep.glob("*/metrics.json")]
    assert len(done) == 1 and "model.lr=0.001" in done[0]
    report = json.loads((sweep / "laffer.json").read_text())
    assert report["n_jobs"] == 1 and len(report["failed"]) == 2


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_resumes(
    tmp_path: Path, cache_dir: Path, expected: dict
) -> None:
    """submitit's local executor stands in for SLURM: the preemption signal (USR2) reaches the
    job, which checkpoints at the batch end and hands over to submitit; submitit requeues it, and
    the requeued job resumes to the uninterrupted results."""
    args = [*TINY, f"paths.cache_dir={cache_dir}"]
    sweep = tmp_path / "sweep"
    release = tmp_path / "release"
    cmd = train_cmd(
        "-m", "hydra/launcher=submitit_local", *args, f"hydra.sweep.dir={sweep}",
        *paused_at(4),
    )  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=support_env(release), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    deadline, sent = time.monotonic() + 600, False
    while proc.poll() is None and time.monotonic() < deadline and not sent:
        for job in sweep.glob("0_*"):
            if saved_step(job / "checkpoints" / "last.ckpt") == 4:
                os.kill(json.loads((job / ".lock").read_text())["pid"], signal.SIGUSR2)
                sent = True
                release.touch()
        time.sleep(0.01)
    out, _ = proc.communicate(timeout=900)
    assert sent and proc.returncode == 0, out[-3000:]
    (job,) = sweep.glob("0_*")
    log = (job / "train.log").read_text()
    assert "preempted during training (epoch 1, step 5)" in log
    assert "Requeued job" in log and "resuming the interrupted job" in log
    assert stable(job / "metrics.json") == expected
