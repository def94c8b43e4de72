"""The console commands: ``--help`` without the internal schema groups, and bash tab completion
for ``zelo-train`` exactly as the README installs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*cmd: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_help_lists_the_groups_but_not_the_schemas() -> None:
    text = run("zelo-train", "--help")
    assert text.startswith("zelo-train: ")
    assert "\nminer: " in text and "\nhparams_search: hardness" in text
    assert "schema" not in text.split("== Config ==")[0]
    mine = run("zelo-mine", "--help").split("== Config ==")[0]
    assert "\ndataset: " in mine and "\nmodel: " not in mine and "schema" not in mine
    assert run("zelo-analyse", "--help").startswith("usage: zelo-analyse")


def complete(install: str, line: str) -> list[str]:
    """Install Hydra's bash completion as the README says, then complete ``line`` at its end."""
    script = f"""
eval "$({install} -sc install=bash)"
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
hydra_bash_completion
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    return run("bash", "-c", script).split()


@pytest.mark.parametrize(
    ("install", "line"),
    [("zelo-train", "zelo-train miner=perc"), ("python train.py", "python train.py miner=perc")],
)
def test_tab_completion_offers_the_options(install: str, line: str) -> None:
    assert complete(install, line) == ["miner=percpos"]


def test_tab_completion_of_a_nested_group() -> None:
    assert "miner/scorer=st" in complete("zelo-train", "zelo-train miner/scorer=")
