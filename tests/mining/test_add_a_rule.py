"""Adding a rule is one file, its YAML and its test: a throw-away rule in a temporary package is
composed, validated, derived a schema and mined with, and no list in zelo is edited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import open_dict

from zelo.pipeline import build
from zelo.run.validation import problems
from zelo.schemas import rule_schemas

REPO = Path(__file__).resolve().parents[2]

RULE = '''"""Keep only odd document ids (a throw-away rule)."""

from __future__ import annotations

import torch

from zelo.types import CandidateSet
from zelo.utils.ranges import at_least

RANGES = {"modulus": at_least(2)}


def odd_ids_mask(cands: CandidateSet, modulus: int = 2) -> torch.Tensor:
    """Keep-mask of the candidates whose id is not a multiple of ``modulus``."""
    return cands.ids % modulus != 0
'''

YAML = """# A throw-away miner: random candidates, odd ids only.
defaults:
  - /common/miner@_here_
  - scorer: random
  - sampling: top
  - _self_
depth: 60
rules:
  odd_ids:
    _target_: throwaway_rules.odd_ids.odd_ids_mask
    _partial_: true
    modulus: 2
"""


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch) -> Path:
    """The rule's module in a temporary package and the option's YAML in a temporary config
    folder: the two files a new rule needs besides its test."""
    package = tmp_path / "code" / "throwaway_rules"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "odd_ids.py").write_text(RULE)
    conf = tmp_path / "conf" / "miner"
    conf.mkdir(parents=True)
    (conf / "oddids.yaml").write_text(YAML)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    return tmp_path / "conf"


def test_a_new_rule_composes_validates_and_mines(make_cfg, throwaway: Path) -> None:
    cfg = make_cfg("miner=oddids", f"hydra.searchpath=[file://{throwaway}]")
    assert problems(cfg) == []
    mining_pass = build(cfg).datamodule.mine(0)
    neg = mining_pass.mined.neg_ids
    assert (neg >= 0).any() and bool((neg[neg >= 0] % 2 == 1).all())
    assert mining_pass.stats["mining/dropped_odd_ids"] > 0
    # its range and its arguments come from its own code
    bad = make_cfg("miner=oddids", f"hydra.searchpath=[file://{throwaway}]")
    with open_dict(bad):
        bad.miner.rules.odd_ids.modulus = 1
        bad.miner.rules.odd_ids.modulo = 3
    found = problems(bad)
    assert "miner.rules.odd_ids.modulus=1 is invalid: expected an integer >= 2" in found
    assert any(p.startswith("miner.rules.odd_ids.modulo is not an argument") for p in found)


def test_its_schema_is_derived_from_the_signature(throwaway: Path) -> None:
    schemas = rule_schemas("throwaway_rules")
    schema = schemas[("rule", "odd_ids")]
    fields = schema.__dataclass_fields__
    assert set(fields) == {"_target_", "_partial_", "modulus"}
    assert fields["modulus"].type is int
    assert schema()._target_ == "throwaway_rules.odd_ids.odd_ids_mask"


def test_the_readme_lists_at_most_three_files_to_add_a_miner() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Add a miner\n") : readme.index("## Add a loss\n")]
    steps = re.findall(r"^\d+\. `([^`]+)`", section, flags=re.M)
    assert steps == [
        "zelo/mining/rules/<name>.py",
        "conf/miner/<option>.yaml",
        "tests/mining/test_<name>.py",
    ]
    assert (REPO / "zelo/mining/rules").is_dir() and (REPO / "conf/miner").is_dir()
