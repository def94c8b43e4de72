"""Exact search is torch: it imports, runs and gives identical results with FAISS hidden; the
FAISS indexes say what to install when it is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zelo.retrieval.backends as backends
from zelo.errors import MissingDependency, ZeloError
from zelo.retrieval import build_searcher
from zelo.retrieval.backends import faiss_builds

REPO = Path(__file__).resolve().parents[2]
HIDE = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None  # import raises ImportError\n"


def tied_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """Documents with many exact ties: small-integer vectors (exact fp32 products), duplicates."""
    g = torch.Generator().manual_seed(3)
    docs = torch.randint(-2, 3, (3000, 16), generator=g).float()
    docs[1000:1300] = docs[:300]  # duplicates tie with lower ids
    queries = torch.randint(-2, 3, (40, 16), generator=g).float()
    return docs, queries


def hidden_faiss_run(tmp_path: Path) -> dict:
    """In a fresh interpreter with ``faiss`` hidden: import, exact search, and an IVF attempt."""
    script = (
        HIDE.format(names=["faiss"])
        + f"""
import json, numpy as np, torch
sys.path.insert(0, {str(Path(__file__).parent)!r})
import zelo.retrieval
from zelo.retrieval import build_searcher
from test_without_faiss import tied_problem
docs, queries = tied_problem()
scores, ids = build_searcher(docs, "flat", use_gpu=False, block_rows=512).search(queries, 50)
np.save({str(tmp_path / "ids.npy")!r}, ids.numpy())
np.save({str(tmp_path / "scores.npy")!r}, scores.numpy())
out = {{"faiss_loaded": sys.modules.get("faiss") is not None}}
try:
    build_searcher(docs, "ivf", use_gpu=False)
except Exception as err:
    out["ivf_error"] = [type(err).__name__, str(err)]
print(json.dumps(out))
"""
    )
    got = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert got.returncode == 0, got.stderr[-2000:]
    return json.loads(got.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def without_faiss(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("nofaiss")
    return hidden_faiss_run(tmp), tmp


def test_exact_search_is_identical_with_and_without_faiss(without_faiss):
    import faiss  # noqa: F401  (loaded here, so the comparison is with FAISS in the process)

    out, tmp = without_faiss
    assert out["faiss_loaded"] is False
    docs, queries = tied_problem()
    scores, ids = build_searcher(docs, "flat", use_gpu=False, block_rows=512).search(queries, 50)
    assert np.array_equal(np.load(tmp / "ids.npy"), ids.numpy())  # ids and tie order
    assert np.array_equal(np.load(tmp / "scores.npy"), scores.numpy())
    # the ties are real: some query has equal scores inside its top 50
    assert bool((scores[:, 1:] == scores[:, :-1]).any())


def test_ivf_without_faiss_names_what_to_install(without_faiss):
    name, message = without_faiss[0]["ivf_error"]
    assert name == "MissingDependency"
    assert "index=ivf needs FAISS" in message and "pip install faiss-cpu" in message


def test_faiss_builds_finds_every_build_sharing_the_faiss_folder():
    installed = [("faiss-cpu", "1.15.1"), ("numpy", "2.4"), ("faiss_gpu_cu12", "1.14.1")]
    assert faiss_builds(installed) == ["faiss-cpu 1.15.1", "faiss-gpu-cu12 1.14.1"]
    assert faiss_builds([("faiss", "1.7.4"), ("faissx", "1")]) == ["faiss 1.7.4"]
    assert faiss_builds([("torch", "2.13")]) == []


def test_two_faiss_builds_are_refused(monkeypatch):
    class Dist:
        def __init__(self, name: str, version: str) -> None:
            self.metadata, self.version = {"Name": name}, version

    fake = [Dist("faiss-cpu", "1.15.1"), Dist("faiss-gpu-cu12", "1.14.1")]
    monkeypatch.setattr(backends.metadata, "distributions", lambda: iter(fake))
    monkeypatch.setattr(backends, "_faiss_index", None)  # as in a fresh process
    with pytest.raises(ZeloError, match="two FAISS builds.*faiss-cpu 1.15.1, faiss-gpu-cu12"):
        build_searcher(torch.eye(4), "hnsw")


def test_this_environment_has_one_faiss_build():
    from importlib import metadata

    found = faiss_builds((d.metadata["Name"] or "", d.version) for d in metadata.distributions())
    assert len(found) == 1, found


def test_missing_optional_packages_name_the_option_and_the_package(monkeypatch):
    from zelo.mining.scorers.bm25 import BM25Scorer
    from zelo.run.loggers import JobWandbLogger

    monkeypatch.setitem(sys.modules, "bm25s", None)
    with pytest.raises(MissingDependency, match=r"BM25 scorer .* pip install bm25s"):
        BM25Scorer()
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(MissingDependency, match=r"logger=wandb .* pip install wandb"):
        JobWandbLogger(project="zelo", offline=True)
