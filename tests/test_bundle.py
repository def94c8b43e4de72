"""The offline bundle (``zelo.bundle``) and the one GPU command (``bench/gpu_run.sh``), proven on
the CPU: the dry run installs from the bundle with ``--no-index`` into a Python that has only the
node's packages (``tests/support/node_env.py``) and runs every stage at toy sizes to the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from zelo.bundle import (
    HALF_WEIGHTS,
    MANIFEST,
    MIN_COSINE,
    WEIGHTS,
    BundleError,
    _replace_folder,
    build,
    file_table,
    pack_minilm,
    requirement_names,
    restore_weights,
    source_digest,
    verify,
    wheel_tags,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "support"))
from node_env import make_node_python  # noqa: E402

RETURNED = {"figures.jsonl", "run.log", "results.csv", "laffer.json", "laffer.png"}


def _bundle(root: Path) -> Path:
    (root / "wheels").mkdir(parents=True)
    (root / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (root / "data" / "c").mkdir(parents=True)
    (root / "data" / "c" / "queries.jsonl").write_text('{"_id": "q1"}\n')
    (root / MANIFEST).write_text(json.dumps({"files": file_table(root), "bytes": 0}))
    return root


def test_verify_names_missing_changed_and_extra_files(tmp_path):
    root = _bundle(tmp_path / "b")
    assert set(verify(root)["files"]) == {"wheels/a-1.0-py3-none-any.whl", "data/c/queries.jsonl"}
    (root / "data" / "c" / "queries.jsonl").write_text('{"_id": "q2"}\n')
    (root / "wheels" / "a-1.0-py3-none-any.whl").unlink()
    (root / "data" / "stray.txt").write_text("x")
    with pytest.raises(BundleError) as err:
        verify(root)
    message = str(err.value)
    assert "missing wheels/a-1.0-py3-none-any.whl" in message
    assert "changed data/c/queries.jsonl" in message
    assert "not in the manifest: data/stray.txt" in message
    with pytest.raises(BundleError, match="no readable manifest"):
        verify(tmp_path)


def test_a_folder_that_is_not_a_bundle_is_never_replaced(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    (tmp_path / "new").mkdir()
    with pytest.raises(BundleError, match="not a bundle"):
        _replace_folder(tmp_path / "new", tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    old = _bundle(tmp_path / "old")
    _replace_folder(tmp_path / "new", old)
    assert not (tmp_path / "new").exists() and not (old / MANIFEST).exists()


def test_source_digest_follows_sources_not_caches(tmp_path):
    (tmp_path / "zelo" / "__pycache__").mkdir(parents=True)
    (tmp_path / "conf").mkdir()
    (tmp_path / "zelo" / "a.py").write_text("x = 1\n")
    (tmp_path / "conf" / "train.yaml").write_text("seed: 0\n")
    first = source_digest(tmp_path)
    (tmp_path / "zelo" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "notes.md").write_text("not source")
    assert source_digest(tmp_path) == first
    (tmp_path / "conf" / "train.yaml").write_text("seed: 1\n")
    assert source_digest(tmp_path) != first


def test_wheel_tags_and_requirements_for_the_target_python(tmp_path):
    assert wheel_tags("hydra_core-1.3.8-py3-none-any.whl") == ("py3", "none", "any")
    name = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert wheel_tags(name) == ("cp312", "cp312", "manylinux_2_17_x86_64.manylinux2014_x86_64")
    wheel = tmp_path / "omegaconf-2.3.1-py3-none-any.whl"
    meta = "\n".join([
        "Metadata-Version: 2.1", "Name: omegaconf", "Version: 2.3.1",
        "Requires-Dist: antlr4-python3-runtime (==4.9.*)", "Requires-Dist: PyYAML>=5.1.0",
        'Requires-Dist: dataclasses ; python_version == "3.6"',
        'Requires-Dist: tomli ; python_version < "3.11"', 'Requires-Dist: pytest ; extra == "test"',
    ])  # fmt: skip
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("omegaconf-2.3.1.dist-info/METADATA", meta)
    assert requirement_names(wheel, "3.12") == ["PyYAML", "antlr4-python3-runtime"]
    assert requirement_names(wheel, "3.10") == ["PyYAML", "antlr4-python3-runtime", "tomli"]


@pytest.mark.slow
def test_minilm_travels_in_fp16_and_comes_back_checked(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from zelo.models.encoders import minilm_path

    src = Path(minilm_path())
    info = pack_minilm(src, tmp_path / "minilm")
    half = tmp_path / "minilm" / HALF_WEIGHTS
    assert half.stat().st_size < 0.51 * (src / WEIGHTS).stat().st_size
    assert info["min_cosine_at_build"] >= MIN_COSINE
    restored = restore_weights(tmp_path / "minilm", tmp_path / "restored")
    assert restored["min_cosine"] >= MIN_COSINE and restored["texts"] >= 5
    fp32 = load_file(str(tmp_path / "restored" / WEIGHTS))
    assert all(v.dtype != torch.float16 for v in fp32.values())
    assert fp32.keys() == load_file(str(src / WEIGHTS)).keys()
    state = load_file(str(half))  # a damaged copy: one attention matrix perturbed
    key = next(k for k in state if "layer.0.attention.self.query.weight" in k)
    state[key] = (state[key].float() + 0.05 * torch.randn_like(state[key].float())).half()
    save_file(state, str(half), metadata={"format": "pt"})
    with pytest.raises(BundleError, match="embeddings moved"):
        restore_weights(tmp_path / "minilm", tmp_path / "damaged")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_gpu_run_dry_run_from_the_bundle_on_a_node_like_python(tmp_path):
    manifest = build(tmp_path / "bundle", python_version=None)  # wheels for this Python
    assert manifest["bytes"] <= 64 * 2**20
    assert {w["spec"].split("==")[0] for w in manifest["wheels"]} >= {"hydra-core", "omegaconf"}
    python = make_node_python(tmp_path / "node")
    for absent in ("hydra", "omegaconf", "faiss", "datasets", "wandb", "bm25s", "zelo"):
        probe = subprocess.run(
            [str(python), "-c", f"import {absent}"], capture_output=True, cwd=tmp_path
        )
        assert probe.returncode != 0, f"{absent} importable in the node's Python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHON=str(python), OUT=str(tmp_path / "returned"))
    cmd = ["bash", str(REPO / "bench" / "gpu_run.sh"), "--preset", "tiny"]
    cmd += ["--bundle", str(tmp_path / "bundle"), "--scratch", str(tmp_path / "scratch")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=2400)
    returned = tmp_path / "returned"
    log = (returned / "run.log").read_text() if (returned / "run.log").exists() else ""
    assert run.returncode == 0, run.stdout[-3000:] + log[-3000:]
    files = [p for p in returned.rglob("*") if p.is_file()]
    assert {p.name for p in files} == RETURNED
    assert all(p.stat().st_size <= 16 * 2**20 and p.parent == returned for p in files)
    lines = _lines(returned / "figures.jsonl")
    stages = {x["stage"]: x for x in lines if "stage" in x}
    assert stages["verify"]["files"] == len(manifest["files"])
    assert stages["restore"]["min_cosine"] >= MIN_COSINE
    assert stages["environment"]["hydra"] and stages["environment"]["gpu"] is None
    for name in ("install", "search", "throughput", "laffer_seed0", "laffer_seed1"):
        assert stages[name]["exit"] == 0 and not stages[name]["timed_out"], stages[name]
    search = [x for x in lines if x.get("bench") == "search"]
    assert search and search[0]["device"] == "cpu" and 0 < search[0]["gemm_fraction"]
    sides = {(x["bench"], x.get("side")) for x in lines if "bench" in x}
    assert {("encode", "zelo"), ("encode", "st"), ("train", "zelo"), ("train", "st")} <= sides
    train = next(x for x in lines if x.get("bench") == "train" and "ratio" in x)
    assert train["st_runner"] == "loop"  # no datasets on the node: ST's model + loss, no trainer
    laffer = [x for x in lines if x.get("bench") == "laffer"]
    assert [x["after_seeds"] for x in laffer] == ["0", "0,1"]
    assert laffer[-1]["jobs"] == 8 and laffer[-1]["failed"] == 0
    table = laffer[-1]["table"]
    assert [row["n_raw"] for row in table] == [2, 2] and [row["n_twin"] for row in table] == [2, 2]
    report = json.loads((returned / "laffer.json").read_text())
    assert report["n_jobs"] == 8
    jobs = [p for p in (tmp_path / "scratch" / "laffer_dial").iterdir() if p.is_dir()]
    assert len(jobs) == 8  # the bulk stayed in the scratch folder
