"""SentenceTransformerTrainer + MultipleNegativesRankingLoss train straight from zelo-mine's output."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from zelo.st.export import mine_to_dataset
from zelo.st.trainer import fit_mnrl, st_training_view


def weights(folder: str | Path) -> dict[str, torch.Tensor]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return {k: v.clone() for k, v in model.state_dict().items()}


def changed(before: dict, after: dict) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("fmt", ["triplet", "n-tuple"])
def test_two_mnrl_steps_on_the_mined_dataset(make_mine_cfg, tiny_st, tmp_path, fmt) -> None:
    cfg = make_mine_cfg(
        "miner=topk", "miner/scorer=st", f"miner.scorer.path={tiny_st}", f"output_format={fmt}"
    )
    summary = mine_to_dataset(cfg)
    assert st_training_view(cfg.output_dir).column_names == summary["columns"]["st"]
    # 14 queries over 64 documents: too few distinct texts for batches without repeats
    result = fit_mnrl(
        tiny_st, cfg.output_dir, tmp_path / "st", max_steps=2, batch_size=4, no_duplicates=False
    )
    assert result["steps"] == 2 and math.isfinite(result["train_loss"])
    assert changed(weights(tiny_st), weights(result["model"]))


@pytest.mark.slow
def test_real_minilm_mines_and_trains(make_mine_cfg, tmp_path) -> None:
    from zelo.models.encoders import minilm_path

    cfg = make_mine_cfg("miner=percpos", "annotation.keep_positives=1")
    summary = mine_to_dataset(cfg)
    assert summary["miner/ndcg@10"] > 0.3  # real MiniLM ranks the tiny synthetic corpus well
    result = fit_mnrl(
        minilm_path(), cfg.output_dir, tmp_path / "st", max_steps=2, batch_size=8,
        no_duplicates=False,  # 14 queries: too few distinct texts for batches without repeats
    )  # fmt: skip
    assert result["steps"] == 2 and math.isfinite(result["train_loss"])
    assert changed(weights(minilm_path()), weights(result["model"]))
