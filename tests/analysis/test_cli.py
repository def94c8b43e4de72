"""``python -m zelo.analysis`` and the Hydra callback write results.csv, laffer.png, laffer.json."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf

from zelo.analysis.__main__ import main
from zelo.analysis.report import write_outputs

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = ("results.csv", "laffer.png", "laffer.json")


def analyse(sweep: Path, *args: str, mode: str = "offline") -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": mode, "WANDB_SILENT": "true"}
    cmd = [sys.executable, "-m", "zelo.analysis", str(sweep), "--n-boot", "50", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def strict_json(path: Path) -> dict:
    def reject(token: str) -> None:
        raise ValueError(f"{token} in {path}")

    return json.loads(path.read_text(), parse_constant=reject)


def test_cli_writes_the_three_files(fake_sweep: Path) -> None:
    proc = analyse(fake_sweep, "--no-wandb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in OUTPUTS:
        assert (fake_sweep / name).stat().st_size > 0
    assert (fake_sweep / "laffer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = strict_json(fake_sweep / "laffer.json")
    assert report["n_jobs"] == 6 and report["sweep"] == fake_sweep.name
    assert report["pending"] == ["6_miner=topk,seed=2"]
    assert report["corrupt"] == ["7_miner=topk,seed=3"]
    fit = report["fits"]["infonce"]
    assert fit["peak_label"] == "oracle(x=0.5)" and fit["peak_beats_both_ends"]
    assert {"optimum", "ci", "coefficients", "statement"} <= set(fit)
    assert [row["label"] for row in report["summary"]] == ["random", "oracle(x=0.5)", "topk"]
    oracle = report["summary"][1]
    assert oracle["control"] == "scorer:oracle" and oracle["control_flag"]
    assert not oracle["upper_bound"] and not report["summary"][0]["control_flag"]
    assert report["fn_decomposition"] == [] and report["twin_fits"] == {}
    assert report["surface"] == {}
    assert "Interior maximum" in proc.stderr
    assert not (fake_sweep / "wandb").exists()
    assert not [p for p in fake_sweep.iterdir() if p.name.endswith(".tmp")]


def test_rerun_gives_the_same_results_csv(fake_sweep: Path) -> None:
    write_outputs(fake_sweep, n_boot=20)
    first = (fake_sweep / "results.csv").read_bytes()
    write_outputs(fake_sweep, n_boot=20)
    assert (fake_sweep / "results.csv").read_bytes() == first


def test_missing_folder_exits_2(tmp_path: Path, caplog) -> None:
    assert main([str(tmp_path / "nowhere"), "--no-wandb"]) == 2
    assert "no sweep folder" in caplog.text


def test_wandb_summary_run_offline(fake_sweep: Path) -> None:
    proc = analyse(fake_sweep, mode="offline")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((fake_sweep / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((fake_sweep / "wandb").iterdir())
    assert list(runs[0].glob("*.wandb"))


def test_hydra_callback_config(make_cfg) -> None:
    cfg = make_cfg("hydra/callbacks=laffer")
    node = cfg.hydra.callbacks.laffer
    assert node._target_ == "zelo.analysis.hydra_callback.LafferCallback" and node.wandb


def test_hydra_callback_writes_and_never_raises(fake_sweep: Path, tmp_path: Path, caplog) -> None:
    callback = instantiate(
        {"_target_": "zelo.analysis.hydra_callback.LafferCallback", "wandb": False, "n_boot": 20}
    )
    callback.on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(fake_sweep)}}}))
    assert all((fake_sweep / name).exists() for name in OUTPUTS)
    missing = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "nowhere")}}})
    with caplog.at_level(logging.ERROR):
        callback.on_multirun_end(missing)
    assert "python -m zelo.analysis" in caplog.text


def test_without_wandb_installed_the_analysis_is_written_and_says_so(
    fake_sweep: Path, monkeypatch, caplog
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with caplog.at_level(logging.WARNING):
        write_outputs(fake_sweep, use_wandb=True, n_boot=20)
    assert all((fake_sweep / name).exists() for name in OUTPUTS)
    assert not (fake_sweep / "wandb").exists()
    assert "wandb is not installed: the W&B summary run is not logged" in caplog.text
