"""Config matrix: every option of every group composes and instantiates; schemas match targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from zelo.mining.base import Miner
from zelo.schemas import arguments, option_schemas

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


TRIPLETS = "${paths.root_dir}/tests/mining/data/triplets.jsonl"
EXTRA = {
    "miner": {"precomputed": [f"miner.scorer.path={TRIPLETS}"]},
    "dataset": {
        "beir": ["dataset.path=${paths.data_dir}/scifact"],
        "pairs": ["dataset.path=${paths.root_dir}/tests/st/data/pairs.jsonl"],
    },
    "model": {
        "hf": ["model.encoder.name_or_path=${zelo_minilm:}"],
        "st": ["model.path=${zelo_minilm:}"],
    },
}


def packaged_models(node) -> set[str]:
    """The packaged models (``make models``) a composed config node loads."""
    from zelo.models.packaged import packaged_in

    return packaged_in(OmegaConf.to_container(node, resolve=False))


def instantiate_or_missing(node, **kwargs):
    """``instantiate(node)``; where it needs a packaged model that is not installed, check the
    one-line error naming ``make models`` instead and return ``None``."""
    from zelo.errors import zelo_cause
    from zelo.models.packaged import INSTALL_COMMAND, is_installed

    missing = sorted(m for m in packaged_models(node) if not is_installed(m))
    if not missing:
        return instantiate(node, **kwargs)
    with pytest.raises(Exception) as info:
        instantiate(node, **kwargs)
    cause = zelo_cause(info.value)
    assert cause is not None and f"run `{INSTALL_COMMAND}`" in str(cause), info.value
    assert "\n" not in str(cause) and missing[0] in str(cause)
    return None


@pytest.mark.parametrize("option", options("miner"))
def test_miner_options_instantiate(make_cfg, option: str) -> None:
    cfg = make_cfg(f"miner={option}", *EXTRA["miner"].get(option, []))
    miner = instantiate_or_missing(cfg.miner)
    if miner is None:
        return
    assert isinstance(miner, Miner)
    controls = ("oracle", "adaptive_oracle", "llm_ensemble", "dial")  # read the full judgments
    assert miner.reads_judgments == option.startswith(controls)


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
    module = instantiate_or_missing(cfg.model, loss=instantiate(cfg.loss))
    if module is None:
        return
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
            obj = instantiate(entry)
            assert type(obj) is get_object(entry._target_), (option, entry._target_)


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


SCHEMAS = option_schemas()


def composed_by(group: str, option: str) -> tuple[list[str], str]:
    """Where the schema ``schema/<group>/<option>`` is composed, found in the YAML: the overrides
    of a config that pulls it in, and the node it types (``miner``, ``miner.sampling``,
    ``miner.rules.<name>``, or the group)."""
    if group == "sampling":
        return ["miner=topk", f"miner/sampling={option}"], "miner.sampling"
    if group in ("miner", "rule"):
        wanted = "/common/miner@_here_" if (group, option) == ("miner", "miner") else None
        wanted = wanted or f"/schema/{group}/{option}@"
        for path in sorted((CONF / "miner").glob("*.yaml")):
            for line in path.read_text().splitlines():
                if wanted in line:
                    node = "miner" if group == "miner" else line.split("@", 1)[1].strip()
                    extra = EXTRA["miner"].get(path.stem, [])
                    return [f"miner={path.stem}", *extra], node.replace("rules.", "miner.rules.")
        raise AssertionError(f"no conf/miner option composes schema/{group}/{option}")
    return [f"{group}={option}", *EXTRA.get(group, {}).get(option, [])], group


PASSED_IN_CODE = {"model": {"loss", "corpus"}}  # the module gets them from other groups


def accepted_arguments(target: object, partial: bool) -> set[str]:
    """Keyword arguments ``target`` takes (see :func:`zelo.schemas.arguments`); a partial
    rule's first parameter (the candidates) is given at call time."""
    params = [p for p, _ in arguments(target) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return {p.name for p in params[1 if partial else 0 :]}


def _node(make_cfg, group: str, option: str):
    overrides, node = composed_by(group, option)
    return OmegaConf.select(make_cfg(*overrides), node)


@pytest.mark.parametrize(("group", "option"), sorted(SCHEMAS))
def test_schema_fields_equal_target_arguments(make_cfg, group: str, option: str) -> None:
    schema = SCHEMAS[(group, option)]
    fields = {f for f in schema.__dataclass_fields__ if not f.startswith("_")}
    target = get_object(schema._target_)
    partial = bool(getattr(schema, "_partial_", False))
    expected = accepted_arguments(target, partial) - PASSED_IN_CODE.get(group, set())
    assert fields == expected, f"{schema.__name__} vs {schema._target_}"
    node = _node(make_cfg, group, option)
    assert get_object(node._target_) is target
    assert not OmegaConf.missing_keys(node), f"{group}={option} leaves a field without a value"


LADDER = ["random", "bm25", "minilm_l3", "topk", "mpnet", "fused", "fused_percpos"]


@pytest.mark.parametrize(
    ("experiment", "miners", "model"),
    [
        ("laffer_real", LADDER, "BiEncoderModule"),
        ("laffer_real_minilm", ["random", "topk", "fused"], "BiEncoderModule"),
    ],
)
def test_real_ladder_experiments_compose(make_cfg, experiment, miners, model) -> None:
    cfg = make_cfg(f"experiment={experiment}", "dataset=cranfield")
    params = cfg.hydra.sweeper.params
    assert params.miner.split(",") == miners
    assert params["miner.drop_judged"] == "false,true"  # every point raw and as its twin
    assert cfg.annotation.keep_positives == 1 and cfg.model._target_.endswith(model)
    for miner in miners:  # each rung composes with this experiment
        sub = make_cfg(f"experiment={experiment}", "dataset=cranfield", f"miner={miner}")
        assert sub.miner.scorer._target_
    fused = make_cfg(f"experiment={experiment}", "miner=fused").miner.scorer
    assert sorted(fused.scorers) == ["bm25", "minilm", "minilm_l3", "mpnet"]
    assert packaged_models(fused) == {"minilm_l3", "mpnet"}


def test_student_sizes_are_overridable(make_cfg) -> None:
    cfg = make_cfg("experiment=laffer_real_minilm", "trainer.max_epochs=5", "data.num_negatives=7")
    assert cfg.trainer.max_epochs == 5 and cfg.data.num_negatives == 7
    assert cfg.model.encoder.name_or_path == "minilm"


def test_dial_through_the_fused_base_composes(make_cfg) -> None:
    cfg = make_cfg("experiment=laffer_dial_fused")
    assert cfg.miner.scorer._target_.endswith("DialScorer")
    assert cfg.miner.scorer.base._target_.endswith("EnsembleScorer")
    assert cfg.hydra.sweeper.params["miner.scorer.intelligence"] == "0,0.25,0.5,0.75,1"


def test_precomputed_miner_needs_a_path(make_cfg) -> None:
    cfg = make_cfg("miner=precomputed")
    assert OmegaConf.is_missing(cfg.miner.scorer, "path")
    cfg = make_cfg("miner=precomputed", f"miner.scorer.path={TRIPLETS}")
    miner = instantiate(cfg.miner)
    assert miner.scorer.format == "triplet" and not miner.reads_judgments
