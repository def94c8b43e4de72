"""A hand-written sweep folder: six finished jobs, one pending job, one corrupt metrics.json.

``make_job(root, name, overrides, values)`` writes one job folder; ``values`` is
``(miner, seed, intelligence, fn_rate, test_ndcg10)``, a raw ``metrics.json`` text, or ``None``
(an unfinished job).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

# (job folder, overrides, miner, seed, intelligence, fn_rate, test nDCG@10)
JOBS = [
    ("0_miner=random,seed=0", ["miner=random", "seed=0"], "random", 0, 0.10, 0.01, 0.400),
    ("1_miner=random,seed=1", ["miner=random", "seed=1"], "random", 1, 0.12, 0.02, 0.404),
    (
        "2_miner=oracle,miner.scorer.intelligence=0.5,seed=0",
        ["miner=oracle", "miner.scorer.intelligence=0.5", "seed=0"],
        "oracle",
        0,
        0.50,
        0.30,
        0.450,
    ),
    (
        "3_miner=oracle,miner.scorer.intelligence=0.5,seed=1",
        ["miner=oracle", "miner.scorer.intelligence=0.5", "seed=1"],
        "oracle",
        1,
        0.52,
        0.32,
        0.454,
    ),
    ("4_miner=topk,seed=0", ["miner=topk", "seed=0"], "topk", 0, 0.80, 0.60, 0.380),
    ("5_miner=topk,seed=1", ["miner=topk", "seed=1"], "topk", 1, 0.82, 0.62, 0.386),
]
PENDING = "6_miner=topk,seed=2"
CORRUPT = "7_miner=topk,seed=3"


def write_job(root: Path, name: str, overrides: list[str], values: tuple | str | None) -> Path:
    """A job folder as Hydra and ``zelo.pipeline.train`` leave it."""
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    lines = [*overrides, "paths.cache_dir=/abs/cache", "hydra.job.chdir=false"]
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in lines))
    if isinstance(values, tuple):
        (job / "metrics.json").write_text(json.dumps(metrics_of(*values)))
    elif isinstance(values, str):
        (job / "metrics.json").write_text(values)
    return job


def metrics_of(miner: str, seed: int, intelligence: float, fn_rate: float, ndcg: float) -> dict:
    return {
        "run/miner": miner,
        "run/seed": seed,
        "run/loss": "infonce",
        "run/dataset": "synthetic",
        "run/model": "tiny",
        "run/adaptive": miner.startswith("adaptive"),
        "run/control": "scorer:oracle" if miner.startswith(("oracle", "adaptive")) else None,
        "miner/ndcg@10": intelligence,
        "mining/fn_rate": fn_rate,
        "test/ndcg@10": ndcg,
        "test/ndcg@10_before": 0.35,
        "test/recall@100": 0.9,
        "test/mrr@10": ndcg + 0.1,
        "val/ndcg@10": ndcg - 0.01,
        "time/total_s": 10.0 + seed,
    }


@pytest.fixture
def fake_sweep(tmp_path: Path) -> Path:
    """The sweep folder, with a CSV log carrying ``fn/`` and ``mining/`` columns in job 0."""
    root = tmp_path / "2026-11-27_10-00-00"
    for name, overrides, *values in JOBS:
        write_job(root, name, overrides, tuple(values))
    write_job(root, PENDING, ["miner=topk", "seed=2"], None)
    write_job(root, CORRUPT, ["miner=topk", "seed=3"], '{"test/ndcg@10": 0.4,')
    (root / "multirun.yaml").write_text("hydra: {}\n")
    csv = root / JOBS[0][0] / "csv"
    csv.mkdir()
    (csv / "metrics.csv").write_text(
        "epoch,step,fn/rate,mining/fn_rate,train/loss\n"
        "0,0,,0.01,\n0,0,0.05,,\n0,3,,,2.1\n1,4,0.04,0.02,\n"
    )
    return root


@pytest.fixture
def make_job():
    return write_job


DIAL_XS = (0.0, 0.25, 0.5, 0.75, 1.0)


def dial_metrics(
    miner: str, seed: int, x: float, twin: bool, keep: int | None = 1, loss: str = "infonce"
) -> dict:
    """Metrics of one dial-sweep job: the twin's quality rises with x; the raw miner's false
    negatives (more of them the sparser the annotation) bend it down, so its peak moves left as
    ``keep`` falls (x = 1/3 at keep 1, 2/3 at keep 4, the right end with every positive kept);
    the seeds add a small deterministic jitter, and each miner its own offset (two miners never
    give bit-identical results, as no two real runs on other negatives do)."""
    share = {1: 0.6, 4: 0.3}.get(keep, 0.0)
    fn = 0.0 if twin else share * x**2
    jitter = 0.002 * ((seed * 7 + round(x * 100) * 3) % 5 - 2)
    own = 1e-5 * (zlib.crc32(miner.encode()) % 97) + (1e-6 if twin else 0.0)
    quality = 0.40 + 0.10 * x - 0.25 * fn + jitter + own
    control = {"dial": "scorer:dial", "adaptive_oracle": "scorer:oracle"}.get(miner)
    if twin:
        control = "+".join(c for c in ("fn_free_twin", control) if c)
    return {
        "run/miner": miner,
        "run/seed": seed,
        "run/loss": loss,
        "run/dataset": "synthetic",
        "run/adaptive": miner.startswith("adaptive"),
        "run/control": control,
        "run/keep_positives": keep,
        "miner/ndcg@10": 0.05 + 0.9 * x + 0.001 * seed,
        "mining/fn_rate": fn,
        "mining/tn_hardness": -0.5 + 0.4 * x,
        "mining/tn_score_mean": 0.2 + 0.4 * x,
        "test/ndcg@10": quality,
        "test/ndcg@10_before": 0.38,
        "val/ndcg@10": quality - 0.01,
    }


def write_dial_sweep(root: Path, seeds=(0, 1, 2), keeps=(1,), twins=True, xs=DIAL_XS) -> Path:
    """A dial sweep written by hand: random, top-k, the dial at ``xs`` with their twins (each
    at every completeness of ``keeps``), the practical adaptive miner and the upper bound."""
    i = 0
    points = [("random", None), ("topk", None)] + [("dial", x) for x in xs]
    for keep in keeps:
        for miner, x in points:
            for twin in (False, True) if twins else (False,):
                for seed in seeds:
                    over = [f"miner={miner}", f"seed={seed}"]
                    over += [f"miner.scorer.intelligence={x}"] if x is not None else []
                    over += ["miner.drop_judged=true"] if twin else []
                    over += [f"annotation.keep_positives={'null' if keep is None else keep}"]
                    at = {"random": 0.0, "topk": 0.6}.get(miner, x)
                    values = json.dumps(dial_metrics(miner, seed, at, twin, keep))
                    write_job(root, f"{i}_job", over, values)
                    i += 1
    for miner, at in (("adaptive", 0.4), ("adaptive_oracle", 0.55)):
        for seed in seeds:
            metrics = dial_metrics(miner, seed, at, False, keeps[0])
            write_job(root, f"{i}_job", [f"miner={miner}", f"seed={seed}"], json.dumps(metrics))
            i += 1
    return root


@pytest.fixture
def dial_sweep(tmp_path: Path) -> Path:
    return write_dial_sweep(tmp_path / "dial")


@pytest.fixture
def make_dial_sweep():
    return write_dial_sweep
