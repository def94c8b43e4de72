"""Config ranges are refused before any data is loaded, quoting the value the user typed."""

from __future__ import annotations

import pytest

from zelo.errors import ConfigError
from zelo.pipeline import train
from zelo.run.validation import MARGIN, problems, validate_config


def test_the_default_and_tiny_configs_are_valid(make_cfg) -> None:
    assert problems(make_cfg()) == []
    assert problems(make_cfg("miner=marginpos")) == []
    assert problems(make_cfg("miner=percpos", "loss=distill")) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["data.batch_size=0"], "data.batch_size=0 is invalid: expected an integer >= 1"),
        (["data.num_negatives=-1"], "data.num_negatives=-1 is invalid: expected an integer >= 0"),
        (["annotation.keep_positives=0"], "annotation.keep_positives=0 is invalid"),
        (["model.lr=inf"], "model.lr=inf is invalid: expected a finite number > 0"),
        (["model.lr=-0.001"], "model.lr=-0.001 is invalid"),
        (["loss.temperature=0"], "loss.temperature=0.0 is invalid: expected a finite number > 0"),
        (["miner=percpos", "miner.rules.perc_pos.percentage=1.5"], "percentage=1.5 is invalid"),
        (["miner=marginpos", "miner.rules.margin_pos.margin=-0.1"], "margin=-0.1 is invalid"),
        (["miner=oracle", "miner.scorer.intelligence=2"], "intelligence=2 is invalid"),
        (["checkpoint.every_n_minutes=0"], "checkpoint.every_n_minutes=0.0 is invalid"),
        (["seed=-1"], "seed=-1 is invalid: expected an integer in [0, 4294967295]"),
        (["trainer.max_epochs=0"], "trainer.max_epochs=0 is invalid: expected an integer >= 1"),
    ],
)
def test_out_of_range_values_are_named_and_quoted(make_cfg, overrides, expected) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(make_cfg(*overrides))
    assert expected in str(err.value)


def test_a_cosine_margin_of_one_or_more_is_refused(make_cfg) -> None:
    found = problems(make_cfg("miner=marginpos", f"{MARGIN}=1.5"))
    assert len(found) == 1 and found[0].startswith(f"{MARGIN}=1.5 is invalid: the scorer")
    # BM25 scores are unbounded: a margin of 1.5 is a real setting there
    assert problems(make_cfg("miner=marginpos", "miner/scorer=bm25", f"{MARGIN}=1.5")) == []


def test_every_problem_in_one_message(make_cfg) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(make_cfg("data.batch_size=0", "loss.temperature=-1"))
    assert "data.batch_size=0" in str(err.value) and "loss.temperature=-1.0" in str(err.value)


def test_refused_before_the_data_are_loaded(make_cfg, tmp_path) -> None:
    # the dataset folder does not exist: had the data been read first, a DataError would come
    cfg = make_cfg(
        "dataset=beir", f"dataset.path={tmp_path}/nowhere", "miner=marginpos", f"{MARGIN}=1.5"
    )
    with pytest.raises(ConfigError, match="margin=1.5"):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "collection_info.json").exists()
    assert f"{MARGIN}=1.5" in (tmp_path / "failed.json").read_text()
