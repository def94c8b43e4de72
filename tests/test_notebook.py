"""notebooks/laffer_curve.ipynb runs on a real tiny sweep (which the Hydra callback analyses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "laffer_curve.ipynb"


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """``train.py -m miner=random,topk seed=0,1 debug=tiny`` with the Laffer callback (no W&B)."""
    sweep = tmp_path_factory.mktemp("laffer") / "sweep"
    cmd = [
        sys.executable, "train.py", "-m", "miner=random,topk", "seed=0,1", "debug=tiny",
        "hydra/callbacks=laffer", "hydra.callbacks.laffer.wandb=false",
        "hydra.callbacks.laffer.n_boot=50",
        f"hydra.sweep.dir={sweep}", f"paths.cache_dir={cache_dir}",
    ]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "offline"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.slow
def test_sweep_ends_with_the_laffer_files(tiny_sweep: Path) -> None:
    for name in ("results.csv", "laffer.png", "laffer.json"):
        assert (tiny_sweep / name).stat().st_size > 0
    rows = (tiny_sweep / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("job,label,miner,")


@pytest.mark.slow
def test_notebook_runs_on_a_tiny_sweep(tiny_sweep: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f"SWEEP_DIR = {str(tiny_sweep)!r}"
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "4 finished, 0 failed, 0 running or stopped" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the Laffer figure and the FN-monitor traces


@pytest.mark.slow
def test_nbconvert_executes_the_notebook_as_the_readme_says(tiny_sweep: Path, tmp_path: Path):
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter), "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK),
           "--output-dir", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "ZELO_SWEEP_DIR": str(tiny_sweep), "WANDB_MODE": "offline"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2
