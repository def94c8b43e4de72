"""An offline bundle for a machine without network: wheels, fp16 MiniLM, collections, manifest.

A GPU node of a cluster often has Python, PyTorch, transformers, sentence-transformers and
Lightning, but no package index and no model hub. ``python -m zelo.bundle`` (``make bundle``)
writes one folder that brings the rest:

- ``wheels/``: the pure-Python wheels zelo needs there (hydra-core, omegaconf, antlr4), at the
  versions installed here, for the target Python (``--python-version``, ``--platform``; a wheel
  missing from the index is built from its sdist when the result is pure Python);
- ``minilm/``: all-MiniLM-L6-v2 with fp16 weights (half the size) and ``reference.json``, the
  fp32 model's embeddings of a few texts; ``restore`` writes fp32 weights back and checks that
  the restored model gives the same embeddings (cosine >= :data:`MIN_COSINE`);
- ``data/<name>/``: the BEIR collections the run uses, copied from the data folder;
- ``manifest.json``: every file's sha256 and size, the wheels, the source digest of zelo.

zelo's own source is not bundled: it travels as the repository's working tree (its configs are
found there), and the manifest's ``source_digest`` tells whether that tree is the one the bundle
was built from. The folder is written whole or not at all (built beside, then renamed).

Usage::

    python -m zelo.bundle build [--out bundle] [--local] [--python-version 3.12] [--dataset nfcorpus]
    python -m zelo.bundle verify [bundle] [--source .]
    python -m zelo.bundle restore [bundle] DEST
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import zelo
from zelo.bundle.manifest import (
    MANIFEST,
    BundleError,
    file_table,
    sha256_file,
    source_digest,
    verify,
)
from zelo.bundle.minilm import HALF_WEIGHTS, MIN_COSINE, WEIGHTS, pack_minilm, restore_weights
from zelo.bundle.wheels import (
    TARGET_PLATFORMS,
    TARGET_PYTHON,
    WHEELS,
    fetch_wheel,
    pinned,
    requirement_names,
    wheel_tags,
)
from zelo.utils.io import atomic_write_json

__all__ = [
    "HALF_WEIGHTS", "MANIFEST", "MAX_MIB", "MIN_COSINE", "TARGET_PLATFORMS", "TARGET_PYTHON",
    "WEIGHTS", "WHEELS", "BundleError", "build", "file_table", "pack_minilm", "requirement_names",
    "restore_weights", "sha256_file", "source_digest", "verify", "wheel_tags",
]  # fmt: skip

log = logging.getLogger(__name__)

MAX_MIB = 64.0


def data_root() -> Path:
    """``$ZELO_DATA_DIR``, else ``../shared/data`` beside the repository (as ``conf/paths``)."""
    default = zelo.PACKAGE_ROOT.parent.parent / "shared" / "data"
    return Path(os.environ.get("ZELO_DATA_DIR", default))


def git_commit(repo: Path) -> str | None:
    got = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return got.stdout.strip() or None


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` onto ``out``; an earlier bundle there is replaced, anything
    else is left alone."""
    old = None
    if out.exists():
        if not (out / MANIFEST).is_file():
            raise BundleError(f"{out} exists and is not a bundle (no {MANIFEST}): not replacing it")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old)


def build(
    out: str | os.PathLike = "bundle",
    wheels: tuple[str, ...] = WHEELS,
    python_version: str | None = TARGET_PYTHON,
    platforms: tuple[str, ...] = TARGET_PLATFORMS,
    datasets: tuple[str, ...] = ("nfcorpus",),
    data_dir: str | os.PathLike | None = None,
    max_mib: float = MAX_MIB,
) -> dict:
    """Write the bundle folder ``out`` (whole, or not at all) and return its manifest.

    Args:
        out: the folder (replaced if it holds an earlier bundle).
        wheels: distributions to bring, each ``name`` (the version installed here) or
            ``name==version``.
        python_version: the target's Python (``"3.12"``); ``None``: this interpreter's.
        platforms: the target's wheel platforms (used with ``python_version``).
        datasets: collection folders copied from ``data_dir``.
        data_dir: where the collections live (default :func:`data_root`).
        max_mib: size limit of the folder.

    Raises:
        BundleError: a wheel, the weights or a collection is missing, or the folder is too big.
    """
    out = Path(out).resolve()
    data = Path(data_dir) if data_dir else data_root()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        (tmp / "wheels").mkdir(parents=True)
        wheel_rows = []
        for spec in pinned(tuple(wheels)):
            wheel = fetch_wheel(spec, tmp / "wheels", python_version, platforms)
            log.info("wheel %s", wheel.name)
            row = {"file": f"wheels/{wheel.name}", "spec": spec}
            wheel_rows.append({**row, "requires": requirement_names(wheel, version)})
        from zelo.models.encoders import minilm_path

        minilm = pack_minilm(Path(minilm_path()), tmp / "minilm")
        for name in datasets:
            if not (data / name).is_dir():
                raise BundleError(f"{data / name}: no such collection folder (--data-dir)")
            shutil.copytree(data / name, tmp / "data" / name, copy_function=shutil.copyfile)
        files = file_table(tmp)
        total = sum(f["bytes"] for f in files.values())
        if total > max_mib * 2**20:
            big = sorted(files, key=lambda p: -files[p]["bytes"])[:3]
            raise BundleError(f"bundle is {total / 2**20:.1f} MiB > {max_mib} MiB; largest: {big}")
        repo = zelo.PACKAGE_ROOT.parent
        manifest = {
            "format": 1,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "zelo": {
                "version": zelo.__version__,
                "commit": git_commit(repo),
                "source_digest": source_digest(repo),
            },
            "target": {
                "python_version": version,
                "platforms": list(platforms) if python_version else ["this machine"],
            },
            "wheels": wheel_rows,
            "minilm": minilm,
            "datasets": list(datasets),
            "bytes": total,
            "files": files,
        }
        atomic_write_json(tmp / MANIFEST, manifest)
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("bundle %s: %.1f MiB, %d files", out, total / 2**20, len(files))
    return manifest
