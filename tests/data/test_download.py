"""BEIR download: one clear offline error, and unpacking + verification of a local zip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from zelo.data.beir import load_beir
from zelo.data.download import DownloadError, download, unpack_zip

REPO = Path(__file__).resolve().parents[2]
FILES = {
    "corpus.jsonl": '{"_id": "d1", "title": "Cats", "text": "purr"}\n{"_id": "d2", "text": "bark"}\n',
    "queries.jsonl": '{"_id": "q1", "text": "cats"}\n',
    "qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
}


def make_zip(path: Path, files: dict[str, str], prefix: str = "toy/") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(prefix + name, text)
    return path


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_offline_fails_at_once_with_one_message(tmp_path: Path) -> None:
    env = {**os.environ, "ZELO_BEIR_URL": f"http://127.0.0.1:{closed_port()}/{{name}}.zip"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "zelo.data.download", "scifact", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - start
    err = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "cannot reach 127.0.0.1" in err and "no network?" in err and "--zip" in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("ERROR")]) == 1
    assert elapsed < 30
    assert leftovers(tmp_path) == []


def test_unpack_zip_checks_and_renames(tmp_path: Path) -> None:
    dest = unpack_zip(make_zip(tmp_path / "toy.zip", FILES), tmp_path / "data" / "toy")
    assert leftovers(tmp_path / "data") == ["toy"]
    c = load_beir(dest)
    assert c.doc_texts == ["Cats purr", "bark"]
    assert c.qrels == {"test": {"q1": {"d1": 1}}}
    with pytest.raises(DownloadError, match="already exists"):
        unpack_zip(tmp_path / "toy.zip", dest)


def test_unpack_zip_top_level_files_and_replace(tmp_path: Path) -> None:
    dest = tmp_path / "toy"
    unpack_zip(make_zip(tmp_path / "a.zip", FILES), dest)
    changed = {**FILES, "queries.jsonl": '{"_id": "q1", "text": "felines"}\n'}
    unpack_zip(make_zip(tmp_path / "b.zip", changed, prefix=""), dest, replace=True)
    assert load_beir(dest).query_texts == ["felines"]
    assert leftovers(tmp_path) == ["a.zip", "b.zip", "toy"]


@pytest.mark.parametrize(
    ("files", "prefix", "message"),
    [
        ({k: v for k, v in FILES.items() if k != "queries.jsonl"}, "toy/", "queries.jsonl"),
        ({**FILES, "corpus.jsonl": "not json\n"}, "toy/", "not a BEIR record"),
        ({**FILES, "qrels/test.tsv": "q1 d1 1\n"}, "toy/", "3 tab-separated"),
        (FILES, "../", "escapes the folder"),
    ],
)
def test_unpack_zip_rejects_bad_layout(tmp_path: Path, files, prefix, message) -> None:
    archive = make_zip(tmp_path / "bad.zip", files, prefix)
    with pytest.raises(DownloadError, match=message):
        unpack_zip(archive, tmp_path / "data" / "toy")
    assert leftovers(tmp_path / "data") == []


def test_corrupt_zip_fails_crc_and_leaves_nothing(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "toy.zip", {**FILES, "corpus.jsonl": FILES["corpus.jsonl"] * 50})
    data = bytearray(archive.read_bytes())
    data[200] ^= 0xFF  # inside the first member's compressed bytes
    archive.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="is corrupt"):
        unpack_zip(archive, tmp_path / "data" / "toy")
    assert leftovers(tmp_path / "data") == []


def test_download_checks_the_published_md5(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "scifact.zip", FILES)
    with pytest.raises(DownloadError, match="md5"):
        download("scifact", tmp_path / "data", zip_path=archive)
    assert leftovers(tmp_path / "data") == []
    assert download("toy", tmp_path / "data", zip_path=archive) == tmp_path / "data" / "toy"
    assert archive.exists()  # a zip given by the user is left in place
