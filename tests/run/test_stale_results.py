"""No stale or wrong number comes back with exit 0: a finished folder answers only for its own
config, a run that trains nothing reports nothing, and a sweep whose analysis fails says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zelo.errors import ConfigError
from zelo.pipeline import train
from zelo.run import sweep

REPO = Path(__file__).resolve().parents[2]


def test_identity_leaves_out_paths_and_logging_only() -> None:
    from zelo.run.identity import differences, identity

    base = {
        "paths": {"data_dir": "/a/data", "output_dir": "/a/out"},
        "dataset": {"source": {"path": "/a/data/nfcorpus"}},
        "model": {"lr": 0.001},
        "logger": {"csv": {"save_dir": "/a/out"}},
        "skip_if_done": True,
    }
    moved = {
        "paths": {"data_dir": "/b/shared/data", "output_dir": "/b/o"},
        "dataset": {"source": {"path": "/b/shared/data/nfcorpus"}},
        "model": {"lr": 0.001},
        "logger": None,
        "skip_if_done": False,
    }
    assert identity(base) == identity(moved)
    assert identity(base)["dataset.source.path"] == '"${paths.data_dir}/nfcorpus"'
    changed = {**base, "model": {"lr": 0.05}, "seed": 1}
    assert differences(identity(base), identity(changed)) == [
        "seed: absent -> 1",
        "model.lr: 0.001 -> 0.05",
    ]


def finished_folder(cfg, folder: Path) -> str:
    """``folder`` as a finished run of ``cfg`` leaves it (its config, its metrics)."""
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    done = json.dumps({"test/ndcg@10": 0.5, "run/miner": "random"})
    (folder / "metrics.json").write_text(done)
    return done


def test_a_finished_folder_answers_only_for_its_own_config(make_cfg, tmp_path: Path) -> None:
    done = finished_folder(make_cfg("miner=random", "callbacks=none"), tmp_path)
    with pytest.raises(ConfigError) as err:
        train(make_cfg("miner=random", "callbacks=none", "model.lr=0.05"))
    assert "holds the finished run of another config (model.lr: 0.001 -> 0.05)" in str(err.value)
    assert (tmp_path / "metrics.json").read_text() == done  # neither returned nor replaced
    assert "model.lr" in json.loads((tmp_path / "failed.json").read_text())["error"]
    again = train(make_cfg("miner=random", "callbacks=none", "logger=none"))  # the same run
    assert again == json.loads(done)
    assert not (tmp_path / "failed.json").exists()
    # the command line as a user types it: refused before Hydra records the launch there
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- miner=random\n")
    proc = subprocess.run(
        [sys.executable, "train.py", "debug=tiny", "miner=topk", "model.lr=0.05",
         "callbacks=none", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in log, log[-2000:]
    assert "holds the finished run of another config (" in log and "model.lr: 0.001 -> 0.05" in log
    assert (tmp_path / ".hydra" / "overrides.yaml").read_text() == "- miner=random\n"
    assert (tmp_path / "metrics.json").read_text() == done


def test_the_stored_config_gives_the_live_identity(make_cfg, tmp_path: Path) -> None:
    from zelo.run.identity import config_identity, identity

    cfg = make_cfg("miner=random")
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    stored = OmegaConf.to_container(OmegaConf.load(tmp_path / "config.yaml"))
    assert identity(stored) == config_identity(cfg)


@pytest.mark.parametrize(
    "override",
    ["trainer.max_epochs=0", "trainer.limit_train_batches=0"],
)
def test_a_run_that_would_train_nothing_is_refused(make_cfg, tmp_path: Path, override) -> None:
    with pytest.raises(ConfigError, match=f"{override.split('=')[0]}=0"):
        train(make_cfg("miner=random", override))
    assert not (tmp_path / "metrics.json").exists()


def test_a_sweep_whose_analysis_fails_exits_non_zero(tmp_path: Path) -> None:
    from zelo.analysis.hydra_callback import LafferCallback

    (tmp_path / "laffer.json").mkdir()  # the analysis cannot write its report
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    sweep.SweepMonitor().on_multirun_start(
        OmegaConf.create({"hydra": {"sweeper": {}, "overrides": {"task": []}}})
    )
    LafferCallback(wandb=False, n_boot=10).on_multirun_end(config)
    assert sweep.exit_status() != 0


def test_a_zelo_class_that_moved_module_is_the_same_run() -> None:
    from zelo.run.identity import differences, identity

    before = {"miner": {"scorer": {"_target_": "zelo.mining.dense.DenseScorer", "k": 1}}}
    after = {"miner": {"scorer": {"_target_": "zelo.mining.scorers.dense.DenseScorer", "k": 1}}}
    assert identity(before) == identity(after)  # a finished sweep resumes across the move
    other = {"miner": {"scorer": {"_target_": "zelo.mining.scorers.bm25.BM25Scorer", "k": 1}}}
    assert differences(identity(before), identity(other)) == [
        'miner.scorer._target_: "zelo:DenseScorer" -> "zelo:BM25Scorer"'
    ]
    outside = {"miner": {"scorer": {"_target_": "other.pkg.DenseScorer", "k": 1}}}
    assert identity(outside) != identity(before)  # another package's class stays whole


def test_zelo_target_names_are_unique_across_modules() -> None:
    """:func:`zelo.run.identity.target_name` drops the module: two zelo classes or functions of one
    name in different modules, both used as config targets, would count as one."""
    import re

    targets = set()
    for path in (REPO / "conf").rglob("*.yaml"):
        targets |= set(re.findall(r"_target_:\s*\"?(zelo\.[\w.]+)", path.read_text()))
    by_name: dict[str, set[str]] = {}
    for target in targets:
        by_name.setdefault(target.rsplit(".", 1)[-1], set()).add(target)
    assert len(targets) > 20
    assert {n: t for n, t in by_name.items() if len(t) > 1} == {}
