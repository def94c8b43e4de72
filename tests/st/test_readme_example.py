"""The README's sentence-transformers example runs as written on zelo-mine's output (the README's
two mining commands on the tiny synthetic set, its model a tiny local SentenceTransformer), with
each of its three losses, nothing dropped by hand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zelo.st.export import mine_to_dataset

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- st-example:"


def weights(folder: str | Path) -> dict[str, torch.Tensor]:
    from sentence_transformers import SentenceTransformer

    return dict(SentenceTransformer(str(folder), device="cpu").state_dict())


def readme_example() -> str:
    """The python block that follows the README's ``st-example`` marker."""
    text = (REPO / "README.md").read_text()
    after = text[text.index(MARKER) :]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def readme_mine_commands() -> list[list[str]]:
    """The overrides of the ``zelo-mine`` commands just above the example."""
    text = (REPO / "README.md").read_text()
    block = text[: text.index(MARKER)].rsplit("```bash\n", 1)[1].split("```")[0]
    commands = block.replace("\\\n", " ").strip().splitlines()
    return [c.split()[1:] for c in commands]


def test_the_readme_mines_st_columns_only_in_the_two_formats() -> None:
    commands = readme_mine_commands()
    assert len(commands) == 2 and all("st_columns_only=true" in c for c in commands)
    assert {"output_dir=outputs/mined/scifact-ntuple", "output_format=n-tuple"} <= set(commands[0])
    assert "output_dir=outputs/mined/scifact-triplet" in commands[1]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["mnrl", "cached_mnrl", "gist"])
def test_the_readme_example_trains_on_zelo_mines_output(make_mine_cfg, tiny_st, tmp_path, loss):
    for overrides in readme_mine_commands():  # the README's commands, on the tiny synthetic set
        kept = [o for o in overrides if not o.startswith(("dataset=", "output_dir="))]
        out = next(o for o in overrides if o.startswith("output_dir=")).split("=", 1)[1]
        mine_to_dataset(make_mine_cfg(*kept, f"output_dir={tmp_path / out}"))
    code = readme_example()
    code = code.replace('MODEL = "path/to/model"', f'MODEL = "{tiny_st}"')
    code = code.replace('LOSS = "mnrl"', f'LOSS = "{loss}"').replace(
        "MAX_STEPS = 100", "MAX_STEPS = 2"
    )
    assert code.count(str(tiny_st)) == 1 and f'LOSS = "{loss}"' in code
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = tmp_path / "outputs" / "st" / loss / "final"
    before, after = weights(tiny_st), weights(final)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained and saved
