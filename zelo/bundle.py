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

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import zelo
from zelo.utils.io import atomic_write_json

log = logging.getLogger(__name__)

WHEELS = ("hydra-core", "omegaconf", "antlr4-python3-runtime")
"""Distributions a node with PyTorch, transformers, sentence-transformers and Lightning lacks."""
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
MAX_MIB = 64.0
MIN_COSINE = 0.999999
MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
HALF_WEIGHTS = "model.fp16.safetensors"
MINILM_SKIP = {WEIGHTS, "README.md", ".gitattributes", "data_config.json"}  # not needed to run
SOURCE_GLOBS = ("zelo/**/*.py", "conf/**/*.yaml", "bench/*", "train.py", "pyproject.toml")
REFERENCE_TEXTS = (
    "Vitamin D supplementation and the risk of fractures in older adults.",
    "Does a diet high in red meat raise the risk of colorectal cancer?",
    "statin use breast cancer recurrence",
    "Dietary fibre intake was inversely associated with all-cause mortality in a cohort of "
    "52,000 adults followed for 14 years; the association held after adjustment for smoking, "
    "body mass index, physical activity and energy intake, and was strongest for cereal fibre.",
    "omega-3",
    "How much arsenic is in rice, and does rinsing it help?",
    "A randomised trial of green tea extract for weight loss in women with obesity.",
)


class BundleError(RuntimeError):
    """The bundle cannot be built, or a built one is incomplete or changed."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_table(root: Path) -> dict[str, dict]:
    """``{relative path: {"sha256", "bytes"}}`` of every file under ``root`` but the manifest."""
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST:
            table[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def source_digest(repo: Path) -> str:
    """sha256 over zelo's source, configs and bench scripts (paths and contents, sorted)."""
    h = hashlib.sha256()
    files = sorted({p for pattern in SOURCE_GLOBS for p in repo.glob(pattern) if p.is_file()})
    for path in files:
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(repo).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def verify(root: str | os.PathLike) -> dict:
    """The manifest of the bundle at ``root``, after checking every file against it.

    Raises:
        BundleError: the manifest is missing, or a file is missing, extra or changed.
    """
    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BundleError(f"{root / MANIFEST}: no readable manifest ({err})") from err
    want, have = manifest["files"], file_table(root)
    problems = [f"missing {p}" for p in sorted(set(want) - set(have))]
    problems += [f"not in the manifest: {p}" for p in sorted(set(have) - set(want))]
    problems += [
        f"changed {p} (sha256 {have[p]['sha256'][:12]}..., manifest {want[p]['sha256'][:12]}...)"
        for p in sorted(set(want) & set(have))
        if have[p]["sha256"] != want[p]["sha256"]
    ]
    if problems:
        raise BundleError(f"{root}: " + "; ".join(problems))
    return manifest


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


def reference_embeddings(model_dir: Path, texts: list[str]):
    """fp32 CPU embeddings ``[len(texts), D]`` of ``texts`` by zelo's MiniLM encoder."""
    from zelo.models.transformer import TransformerEncoder

    encoder = TransformerEncoder(str(model_dir), max_length=256)
    return encoder.encode(list(texts), batch_size=len(texts))


def _copy_minilm_files(src: Path, dest: Path, skip: set[str]) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if rel.as_posix() not in skip and "__pycache__" not in rel.parts:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)


def restore_weights(minilm: Path, dest: Path) -> dict:
    """Write the fp32 model folder from a bundle's ``minilm/`` into ``dest`` and check it.

    Returns:
        ``{"min_cosine", "texts", "seconds"}``: the restored model's embeddings of the reference
        texts against the fp32 model's, recorded when the bundle was built.

    Raises:
        BundleError: a reference embedding moved (cosine below :data:`MIN_COSINE`).
    """
    import torch
    from safetensors.torch import load_file, save_file

    start = time.perf_counter()
    dest.mkdir(parents=True, exist_ok=True)
    _copy_minilm_files(minilm, dest, {HALF_WEIGHTS, "reference.json"})
    state = load_file(str(minilm / HALF_WEIGHTS))
    full = {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}
    tmp = dest / f".{WEIGHTS}.{os.getpid()}.tmp"
    save_file(full, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, dest / WEIGHTS)
    ref = json.loads((minilm / "reference.json").read_text())
    got = reference_embeddings(dest, ref["texts"])
    cosine = (got * torch.tensor(ref["embeddings"])).sum(1)  # both L2-normalised
    worst = float(cosine.min())
    if not worst >= MIN_COSINE:
        raise BundleError(f"{dest}: restored MiniLM's embeddings moved: cosine {worst:.8f}")
    return {"min_cosine": worst, "texts": len(ref["texts"]), "seconds": time.perf_counter() - start}


def pack_minilm(src: Path, dest: Path) -> dict:
    """``dest`` = the MiniLM folder ``src`` with fp16 weights and the fp32 reference embeddings;
    checked by restoring it once here."""
    import torch
    from safetensors.torch import load_file, save_file

    dest.mkdir(parents=True)
    _copy_minilm_files(src, dest, MINILM_SKIP)
    state = load_file(str(src / WEIGHTS))
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    save_file(half, str(dest / HALF_WEIGHTS), metadata={"format": "pt"})
    reference = reference_embeddings(src, list(REFERENCE_TEXTS))
    ref = {"texts": list(REFERENCE_TEXTS), "embeddings": reference.tolist()}
    (dest / "reference.json").write_text(json.dumps(ref))
    with tempfile.TemporaryDirectory(prefix="zelo-minilm-") as tmp:
        check = restore_weights(dest, Path(tmp))
    return {
        "weights": f"minilm/{HALF_WEIGHTS}",
        "fp32_bytes": (src / WEIGHTS).stat().st_size,
        "tensors": len(state),
        "min_cosine_at_build": check["min_cosine"],
    }


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


def report(line: dict, jsonl: str | None) -> None:
    """Log ``line`` as JSON and append it to the JSON-lines file ``jsonl`` (if given) at once."""
    text = json.dumps(line)
    log.info("%s", text)
    if jsonl:
        with open(jsonl, "a") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zelo.bundle", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command")
    b = sub.add_parser("build", help="write the bundle folder (the default command)")
    b.add_argument("--out", default="bundle")
    b.add_argument("--local", action="store_true", help="wheels for this interpreter")
    b.add_argument("--python-version", default=TARGET_PYTHON)
    b.add_argument("--platform", action="append", help=f"default: {' '.join(TARGET_PLATFORMS)}")
    b.add_argument("--wheel", action="append", help="NAME or NAME==VERSION (adds to the default)")
    b.add_argument("--dataset", action="append", help="collection folder (default: nfcorpus)")
    b.add_argument("--data-dir", default=None)
    b.add_argument("--max-mib", type=float, default=MAX_MIB)
    v = sub.add_parser("verify", help="check every file against the manifest")
    v.add_argument("bundle", nargs="?", default="bundle")
    v.add_argument("--source", default=None, help="a repository to compare the source digest with")
    r = sub.add_parser("restore", help="write the fp32 MiniLM folder and check its embeddings")
    r.add_argument("bundle")
    r.add_argument("dest")
    for command in (b, v, r):
        command.add_argument("--jsonl", default=None, help="append the result line to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("build", "verify", "restore", "-h", "--help"):
        argv.insert(0, "build")
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            manifest = build(
                args.out,
                WHEELS + tuple(args.wheel or ()),
                None if args.local else args.python_version,
                tuple(args.platform or TARGET_PLATFORMS),
                tuple(args.dataset or ("nfcorpus",)),
                args.data_dir,
                args.max_mib,
            )
            keys = ("bytes", "target", "wheels", "minilm")
            report({"stage": "bundle", **{k: manifest[k] for k in keys}}, args.jsonl)
        elif args.command == "verify":
            manifest = verify(args.bundle)
            same = None
            if args.source:
                same = source_digest(Path(args.source)) == manifest["zelo"]["source_digest"]
                if not same:
                    log.warning("the source in %s differs from the bundle's build", args.source)
            found = {"files": len(manifest["files"]), "bytes": manifest["bytes"]}
            info = {"commit": manifest["zelo"]["commit"], "same_source": same}
            report({"stage": "verify", **found, **info}, args.jsonl)
        else:
            verify(args.bundle)
            restored = restore_weights(Path(args.bundle) / "minilm", Path(args.dest))
            report({"stage": "restore", **restored}, args.jsonl)
    except BundleError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
