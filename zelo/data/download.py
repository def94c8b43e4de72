"""Fetch an official BEIR collection zip, verify it and unpack it into the data root.

Usage: ``python -m zelo.data.download NAME [--data-dir DIR] [--zip FILE] [--force]``.

The data root is ``--data-dir``, else ``ZELO_DATA_DIR``, else ``../shared/data`` beside the
repository. ``NAME.zip`` is streamed from the BEIR server (``ZELO_BEIR_URL`` overrides the URL
template, ``{name}`` is filled in) into a temporary file, its md5 checked against the one BEIR
publishes, its CRCs tested, then unpacked into a temporary folder whose BEIR layout is checked
before it is renamed to ``<data root>/NAME``. Without network it fails at once with one message.
``--zip`` skips the download and unpacks a zip fetched elsewhere.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from zelo.data.beir import DataError

log = logging.getLogger(__name__)

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
URL_ENV = "ZELO_BEIR_URL"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
CHUNK = 1 << 20
# md5 of each zip as published in the BEIR README (beir-cellar/beir, "Available Datasets")
BEIR_MD5 = {
    "msmarco": "444067daf65d982533ea17ebd59501e4",
    "trec-covid": "ce62140cb23feb9becf6270d0d1fe6d1",
    "nfcorpus": "a89dba18a62ef92f7d323ec890a0d38d",
    "nq": "d4d3d2e48787a744b6f6e691ff534307",
    "hotpotqa": "f412724f78b0d91183a0e86805e16114",
    "fiqa": "17918ed23cd04fb15047f73e6c3bd9d9",
    "arguana": "8ad3e3c2a5867cdced806d6503f29b99",
    "webis-touche2020": "46f650ba5a527fc69e0a6521c5a23563",
    "cqadupstack": "4e41456d7df8ee7760a7f866133bda78",
    "quora": "18fb154900ba42a600f84b839c173167",
    "dbpedia-entity": "c2a39eb420a3164af735795df012ac2c",
    "scidocs": "38121350fc3a4d2f48850f6aff52e4a9",
    "fever": "5a818580227bfb4b35bb6fa46d9b6c03",
    "climate-fever": "8b66f0a9126c521bae2bde127b4dc99d",
    "scifact": "5f7d1de60b170fc8027bb7898e2efca1",
}
# sha256 where independent copies agree (size 2,816,079 bytes for scifact)
BEIR_SHA256 = {"scifact": "536e14446a0ba56ed1398ab1055f39fe852686ecad24a6306c80c490fa8e0165"}


class DownloadError(DataError):
    """A collection could not be fetched, verified or unpacked."""


def default_data_dir() -> Path:
    """``ZELO_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("ZELO_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def beir_url(name: str) -> str:
    """The zip URL of ``name`` (template from ``ZELO_BEIR_URL`` when set)."""
    return os.environ.get(URL_ENV, BEIR_URL).format(name=name)


def _probe(url: str, timeout: float) -> None:
    """Open (and close) a TCP connection to the URL's host (or its proxy), so offline fails fast."""
    parts = urllib.parse.urlsplit(url)
    name = Path(parts.path).stem or "NAME"
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as err:
        raise DownloadError(
            f"cannot reach {parts.hostname}:{port} ({err}); no network? Download {url} on a "
            f"machine with network and run `python -m zelo.data.download {name} --zip FILE`."
        ) from None


def fetch(
    url: str,
    dest: Path,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
) -> dict[str, str]:
    """Stream ``url`` into ``dest`` (through a temporary file); return its md5 and sha256."""
    _probe(url, connect_timeout)
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=read_timeout) as resp:
            while block := resp.read(CHUNK):
                out.write(block)
                md5.update(block)
                sha256.update(block)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"download of {url} failed: {err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def file_digests(path: Path) -> dict[str, str]:
    """md5 and sha256 hex of a file."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            md5.update(block)
            sha256.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def verify_digests(name: str, digests: dict[str, str]) -> None:
    """Compare with the published md5 (and known sha256) of ``name``; unknown names only log."""
    known = {"md5": BEIR_MD5.get(name), "sha256": BEIR_SHA256.get(name)}
    if not any(known.values()):
        log.warning("%s: no published checksum; md5 %s", name, digests["md5"])
    for kind, want in known.items():
        if want and digests[kind] != want:
            raise DownloadError(f"{name}.zip: {kind} {digests[kind]} differs from {want}")


def check_layout(folder: Path) -> dict[str, int]:
    """Check a BEIR folder: corpus, queries, at least one qrels split, sane first records.

    Returns:
        ``{"qrels_splits": n}``.

    Raises:
        DownloadError: a file is missing or its first record is not BEIR-shaped.
    """
    found = {s: _first(folder, s) for s in ("corpus.jsonl", "queries.jsonl")}
    for stem, path in found.items():
        if path is None:
            raise DownloadError(f"{folder}: no {stem} or {stem}.gz")
        line = _head_line(path)
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            rec = None
        if not isinstance(rec, dict) or "_id" not in rec or "text" not in rec:
            raise DownloadError(f"{path}: first line is not a BEIR record with '_id' and 'text'")
    qrels = sorted((folder / "qrels").glob("*.tsv*")) if (folder / "qrels").is_dir() else []
    if not qrels:
        raise DownloadError(f"{folder}/qrels: no <split>.tsv file")
    for path in qrels:
        if len(_head_line(path).split("\t")) != 3:
            raise DownloadError(f"{path}: first line does not have 3 tab-separated columns")
    return {"qrels_splits": len(qrels)}


def _first(folder: Path, stem: str) -> Path | None:
    for p in (folder / stem, folder / f"{stem}.gz"):
        if p.is_file():
            return p
    return None


def _head_line(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as fh:
        return fh.readline().rstrip("\r\n")


def unpack_zip(zip_path: str | Path, dest: str | Path, replace: bool = False) -> Path:
    """Test ``zip_path``, unpack it beside ``dest``, check the BEIR layout, rename to ``dest``.

    The zip may hold the files at its top level or inside one folder (BEIR zips hold
    ``<name>/corpus.jsonl``). ``dest`` is only touched once every check has passed.

    Args:
        zip_path: the zip file.
        dest: the collection folder to create.
        replace: swap out an existing ``dest`` (else an existing ``dest`` is an error).

    Raises:
        DownloadError: a corrupt zip, a member escaping the folder, a bad layout, or ``dest``
            exists and ``replace`` is false.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    if dest.exists() and not replace:
        raise DownloadError(f"{dest} already exists; remove it first (or pass --force)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _extract(zip_path, tmp / "unpacked")
        root = _beir_root(tmp / "unpacked")
        counts = check_layout(root)
        if dest.exists():
            os.replace(dest, tmp / "old")
        os.replace(root, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("unpacked %s into %s (%d qrels splits)", zip_path, dest, counts["qrels_splits"])
    return dest


def _extract(zip_path: Path, out: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DownloadError(f"{zip_path} is corrupt: member {bad!r} fails its CRC check")
            for member in zf.namelist():
                target = (out / member).resolve()
                if not target.is_relative_to(out.resolve()):
                    raise DownloadError(f"{zip_path}: member {member!r} escapes the folder")
            zf.extractall(out)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DownloadError(f"{zip_path} is corrupt or not a zip ({err})") from None


def _beir_root(tmp: Path) -> Path:
    """``tmp`` if it holds the corpus, else its single sub-folder (``__MACOSX`` ignored)."""
    if _first(tmp, "corpus.jsonl") is not None:
        return tmp
    subdirs = [p for p in tmp.iterdir() if p.is_dir() and not p.name.startswith("__MACOSX")]
    if len(subdirs) == 1:
        return subdirs[0]
    raise DownloadError(f"no corpus.jsonl at the top of the zip or in one folder: {subdirs}")


def download(
    name: str,
    data_dir: str | Path | None = None,
    url: str | None = None,
    zip_path: str | Path | None = None,
    force: bool = False,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> Path:
    """Fetch (or take ``zip_path``), verify and unpack collection ``name`` into ``data_dir``.

    Args:
        name: BEIR name (``scifact``); names the zip and the folder.
        data_dir: data root (default :func:`default_data_dir`).
        url: zip URL (default :func:`beir_url`).
        zip_path: a local zip to unpack instead of downloading (it is left in place).
        force: replace an existing collection folder.
        connect_timeout: seconds to wait for the server's TCP connection.

    Returns:
        The collection folder ``<data_dir>/<name>``.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    dest = root / name
    if dest.exists() and not force:
        check_layout(dest)
        log.info("%s is already there; nothing to do (--force replaces it)", dest)
        return dest
    root.mkdir(parents=True, exist_ok=True)
    owned = zip_path is None
    archive = Path(zip_path) if zip_path else root / f".{name}.zip"
    try:
        if owned:
            log.info("downloading %s", url or beir_url(name))
            digests = fetch(url or beir_url(name), archive, connect_timeout)
        else:
            digests = file_digests(archive)
        verify_digests(name, digests)
        return unpack_zip(archive, dest, replace=force)
    finally:
        if owned and archive.exists():
            archive.unlink()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Download and unpack a BEIR collection.")
    parser.add_argument("name", help="BEIR name, e.g. scifact, nfcorpus, fiqa")
    parser.add_argument("--data-dir", type=Path, default=None, help="data root")
    parser.add_argument("--url", default=None, help="zip URL (default: the BEIR server)")
    parser.add_argument("--zip", type=Path, default=None, help="unpack this zip, no download")
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    parser.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT_S)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        download(args.name, args.data_dir, args.url, args.zip, args.force, args.connect_timeout)
    except DataError as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
