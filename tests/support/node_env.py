"""A stand-in for an offline GPU node's Python on this machine, made in seconds.

The node has PyTorch, transformers, sentence-transformers, Lightning, torchmetrics, accelerate,
pandas, scipy, matplotlib (and what they require), and nothing else zelo uses: no Hydra,
OmegaConf, FAISS, datasets, wandb, bm25s or MiniLM package. :func:`make_node_python` makes a
fresh venv (no system site-packages, no pip run) whose site-packages holds symbolic links to
exactly those distributions of the running environment: their import packages and
``.dist-info`` folders, found from each distribution's ``RECORD``, closed over their
requirements. Everything else fails to import there, as it would on the node, and nothing is
copied or downloaded (a torch install alone would take minutes and gigabytes).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

NODE_PACKAGES = (
    "pip", "torch", "transformers", "sentence-transformers", "lightning", "torchmetrics",
    "accelerate", "pandas", "scipy", "matplotlib", "numpy", "pyyaml", "tqdm", "safetensors",
    "tokenizers", "packaging",
)  # fmt: skip
ABSENT = ("hydra-core", "omegaconf", "faiss-cpu", "datasets", "wandb", "bm25s", "zelo")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """The installed distributions of ``roots`` and of everything they require (no extras)."""
    dists = {_norm(d.metadata["Name"]): d for d in metadata.distributions()}
    found: dict[str, metadata.Distribution] = {}
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in found or name not in dists:
            continue
        found[name] = dists[name]
        for req in map(Requirement, dists[name].requires or []):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_norm(req.name))
    return found


def make_node_python(dest: Path) -> Path:
    """A venv at ``dest`` that sees only :data:`NODE_PACKAGES` (linked); returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", code], text=True).strip())
    dists = closure(NODE_PACKAGES)
    leaked = sorted(set(dists) & set(ABSENT))
    assert not leaked, f"the node's packages would bring {leaked}"
    for dist in dists.values():
        tops = {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}
        for top in sorted(tops):
            src = Path(str(dist.locate_file(top)))
            if src.exists() and not top.endswith(".pth") and not (site / top).exists():
                (site / top).symlink_to(src)
    return python
