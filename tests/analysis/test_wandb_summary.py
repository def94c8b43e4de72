"""The sweep's W&B summary run carries the results table and the Laffer figure; each job's run
is tagged with its miner, loss and seed and grouped by sweep."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from zelo.analysis.report import write_outputs
from zelo.analysis.wandb_files import read_table, render_summary_run, run_media


def test_summary_run_carries_table_and_figure(fake_sweep: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    write_outputs(fake_sweep, use_wandb=True, n_boot=20)
    (run,) = (fake_sweep / "wandb").glob("offline-run-*")
    media = run_media(run)
    assert media.images["laffer"][0].read_bytes()[:4] == b"\x89PNG"
    table = read_table(media.tables["results"][0])
    assert len(table) == 6 and {"label", "intelligence", "test_ndcg10"} <= set(table.columns)
    assert sorted(table["label"].unique()) == ["oracle(x=0.5)", "random", "topk"]
    fig = render_summary_run(run)
    assert len(fig.axes) == 2


def test_job_runs_are_tagged_and_grouped_by_sweep(make_cfg, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = make_cfg("logger=default", "miner=percpos", "seed=3", "tags=[laffer]")
    OmegaConf.set_readonly(cfg.hydra, False)
    with open_dict(cfg):
        cfg.hydra.mode = "MULTIRUN"
        cfg.hydra.sweep.dir = str(tmp_path / "2026-11-29_12-00-00")
    HydraConfig().set_config(cfg)
    node = OmegaConf.to_container(cfg.logger.wandb, resolve=True)
    assert node["tags"] == ["laffer", "miner:percpos", "loss:infonce", "seed:3"]
    assert node["group"] == "2026-11-29_12-00-00" and node["name"] == "percpos-s3"
    logger = instantiate(cfg.logger.wandb)
    try:
        run = logger.experiment
        assert run.group == "2026-11-29_12-00-00"
        assert set(run.tags) == {"laffer", "miner:percpos", "loss:infonce", "seed:3"}
    finally:
        import wandb

        wandb.finish()
