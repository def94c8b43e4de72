"""``python -m zelo.bundle``: build, verify or restore (see :mod:`zelo.bundle`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from zelo.bundle import (
    MAX_MIB,
    TARGET_PLATFORMS,
    TARGET_PYTHON,
    WHEELS,
    BundleError,
    build,
    restore_weights,
    source_digest,
    verify,
)

log = logging.getLogger("zelo.bundle")


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
        prog="python -m zelo.bundle",
        description="zelo's offline bundle: wheels, fp16 MiniLM, collections, manifest.",
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
