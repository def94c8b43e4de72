"""Loggers that continue a resumed job: one W&B run id per job folder, an appended CSV log."""

from __future__ import annotations

from pathlib import Path

from zelo.keys import RUN_ID_FILE
from zelo.run.loggers import JobCSVLogger, JobWandbLogger
from zelo.run.wandb_ids import drop_offline_copies, folder_run_id


def test_a_folder_keeps_its_run_id(tmp_path: Path) -> None:
    run_id = folder_run_id(tmp_path)
    assert len(run_id) == 8 and run_id.isalnum()
    assert folder_run_id(tmp_path) == run_id
    assert (tmp_path / RUN_ID_FILE).read_text().strip() == run_id
    assert folder_run_id(tmp_path / "other") != run_id


def test_the_wandb_logger_uses_the_job_folder_id_and_no_anonymous_setting(tmp_path: Path) -> None:
    logger = JobWandbLogger(save_dir=str(tmp_path), project="p", offline=True)
    assert logger._wandb_init["id"] == folder_run_id(tmp_path)
    assert "anonymous" not in logger._wandb_init
    assert logger._wandb_init["resume"] == "allow"


def test_old_offline_copies_of_a_run_are_dropped(tmp_path: Path) -> None:
    for name in ("offline-run-1-abc", "offline-run-2-abc", "offline-run-3-xyz"):
        (tmp_path / name).mkdir()
    assert drop_offline_copies(tmp_path, "abc") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["offline-run-3-xyz"]


def test_the_csv_log_is_appended_and_rows_after_the_checkpoint_are_dropped(tmp_path: Path) -> None:
    first = JobCSVLogger(save_dir=str(tmp_path), name="csv", version="")
    for step in range(5):
        first.log_metrics({"train/loss": float(step)}, step=step)
    first.save()
    resumed = JobCSVLogger(save_dir=str(tmp_path), name="csv", version="")
    assert resumed.drop_from(3) == 2  # steps 3 and 4 were logged after the checkpoint
    for step in (3, 4):
        resumed.log_metrics({"train/loss": 10.0 + step, "val/ndcg@10": 0.5}, step=step)
    resumed.save()
    text = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert text[0] == "step,train/loss,val/ndcg@10"
    assert [line.split(",")[1] for line in text[1:]] == ["0.0", "1.0", "2.0", "13.0", "14.0"]
