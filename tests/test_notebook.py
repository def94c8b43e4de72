"""notebooks/laffer_curve.ipynb runs on a real tiny sweep (which the Hydra callback analyses)."""

from __future__ import annotations

import os
import shutil
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


def test_a_relative_sweep_folder_is_found_from_the_caller_or_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zelo.analysis import resolve_sweep_dir

    repo = tmp_path / "repo"
    sweep = repo / "outputs" / "tinysweep"
    sweep.mkdir(parents=True)
    (repo / "notebooks").mkdir()
    # `ZELO_SWEEP_DIR=outputs/tinysweep jupyter nbconvert ...` from the repository root: the
    # kernel runs in notebooks/, but $PWD is still the shell's
    monkeypatch.chdir(repo / "notebooks")
    monkeypatch.setenv("PWD", str(repo))
    assert resolve_sweep_dir("outputs/tinysweep", repo=repo) == sweep.resolve()
    # the same command from notebooks/ finds it from the repository root
    monkeypatch.setenv("PWD", str(repo / "notebooks"))
    assert resolve_sweep_dir("outputs/tinysweep", repo=repo) == sweep.resolve()
    assert resolve_sweep_dir("../outputs/tinysweep", repo=repo) == sweep.resolve()
    with pytest.raises(FileNotFoundError, match="no sweep folder outputs/nothing: tried"):
        resolve_sweep_dir("outputs/nothing", repo=repo)


@pytest.mark.slow
def test_the_readme_command_gives_one_table_from_the_root_and_from_notebooks(
    tiny_sweep: Path, tmp_path: Path
) -> None:
    # the README's command names a folder under outputs/, relative to where it is typed
    name = f"notebook-test-{os.getpid()}-{tmp_path.name}"
    inside = REPO / "outputs" / name
    shutil.copytree(tiny_sweep, inside)
    jupyter = Path(sys.executable).parent / "jupyter"
    tables = []
    try:
        for cwd in (REPO, REPO / "notebooks"):
            out = tmp_path / cwd.name
            cmd = [str(jupyter), "nbconvert", "--to", "notebook", "--execute",
                   str(NOTEBOOK), "--output-dir", str(out)]  # fmt: skip
            env = {**os.environ, "ZELO_SWEEP_DIR": f"outputs/{name}", "PWD": str(cwd)}
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
            )
            assert proc.returncode == 0, proc.stderr[-3000:]
            nb = nbformat.read(out / NOTEBOOK.name, as_version=4)
            text = "".join(
                o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
            )
            assert "4 finished, 0 failed" in text
            tables.append(nb.cells[4].outputs[-1]["data"]["text/plain"])
    finally:
        shutil.rmtree(inside, ignore_errors=True)
    assert tables[0] == tables[1] and "random" in tables[0]
