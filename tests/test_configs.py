"""Config matrix: every option of every group composes and instantiates; schemas match targets."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from zelo.schemas import OPTION_SCHEMAS

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


EXTRA = {
    "dataset": {
        "beir": ["dataset.path=${paths.data_dir}/scifact"],
        "pairs": ["dataset.path=${paths.root_dir}/tests/st/data/pairs.jsonl"],
    },
    "model": {
        "hf": ["model.encoder.name_or_path=${zelo_minilm:}"],
        "st": ["model.path=${zelo_minilm:}"],
    },
}


@pytest.mark.parametrize("option", options("miner"))
def test_miner_options_instantiate(make_cfg, option: str) -> None:
    cfg = make_cfg(f"miner={option}")
    miner = instantiate(cfg.miner)
    assert hasattr(miner, "mine")


@pytest.mark.parametrize("option", options("loss"))
def test_loss_options_instantiate(make_cfg, option: str) -> None:
    cfg = make_cfg(f"loss={option}")
    loss = instantiate(cfg.loss)
    assert isinstance(loss, torch.nn.Module)


@pytest.mark.parametrize("option", options("teacher"))
def test_teacher_options_instantiate(make_cfg, option: str) -> None:
    cfg = make_cfg("loss=distill", f"teacher={option}")
    teacher = instantiate(cfg.teacher)
    assert callable(teacher.score) and teacher.softmax_temperature > 0


@pytest.mark.parametrize("option", options("model"))
def test_model_options_instantiate(make_cfg, option: str) -> None:
    cfg = make_cfg(f"model={option}", *EXTRA["model"].get(option, []))
    module = instantiate(cfg.model, loss=instantiate(cfg.loss))
    emb = module.encoder.encode(["a query about heat transfer", "a document"])
    assert emb.shape[0] == 2
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-4)


@pytest.mark.parametrize("option", options("dataset"))
def test_dataset_options_compose(make_cfg, option: str) -> None:
    cfg = make_cfg(f"dataset={option}", *EXTRA["dataset"].get(option, []))
    assert set(cfg.dataset.splits) == {"train", "dev", "test"}
    if "path" in cfg.dataset.source:
        assert Path(cfg.dataset.source.path).exists(), cfg.dataset.source.path


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_callback_and_logger_options_instantiate(make_cfg, group: str) -> None:
    for option in options(group):
        cfg = make_cfg(f"{group}={option}")
        node = cfg.get(group) or {}
        for entry in node.values():
            assert instantiate(entry) is not None


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_instantiate(make_cfg, option: str) -> None:
    if option == "gpu" and not torch.cuda.is_available():
        pytest.skip("trainer=gpu needs CUDA")
    overrides = ["trainer.accelerator=cpu"] if option == "ddp" else []
    cfg = make_cfg(f"trainer={option}", *overrides)
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


def test_unknown_key_fails(make_cfg) -> None:
    with pytest.raises(Exception, match="nonexistent"):
        make_cfg("data.nonexistent=1")


def test_root_config_resolves(cfg_tiny) -> None:
    resolved = OmegaConf.to_container(cfg_tiny, resolve=True)
    assert resolved["paths"]["root_dir"] == str(REPO)
    assert resolved["logger"]["csv"]["save_dir"] == cfg_tiny.paths.output_dir


@pytest.mark.parametrize(("group", "option"), sorted(OPTION_SCHEMAS))
def test_schema_fields_match_target_signature(make_cfg, group: str, option: str) -> None:
    schema = OPTION_SCHEMAS[(group, option)]
    fields = {f for f in schema.__dataclass_fields__ if not f.startswith("_")}
    cfg = make_cfg(f"{group}={option}", *EXTRA.get(group, {}).get(option, []))
    node = cfg[group]
    params = inspect.signature(get_object(node._target_)).parameters  # a class or a factory
    accepted = {p for p in params if p != "self"}
    assert fields <= accepted, f"schema fields not in {node._target_}: {fields - accepted}"
    required = {
        p.name for p in params.values()
        if p.default is inspect.Parameter.empty and p.name != "self"
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    passed_in_code = {"loss"}  # the module gets its loss from the loss group
    assert required - passed_in_code <= fields, f"{node._target_} needs {required - fields}"
