"""Which search backends this environment has: exact search is torch and always there; FAISS
(``ivf``, ``hnsw``) is imported on first use, with one clear error when it is missing or when two
of its builds share one ``faiss/`` folder."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from zelo.errors import MissingDependency, ZeloError

_faiss_index = None  # zelo.retrieval.faiss_index once imported


def faiss_builds(installed: Iterable[tuple[str, str]]) -> list[str]:
    """The FAISS builds among ``(distribution, version)`` pairs (``faiss``, ``faiss-cpu``,
    ``faiss-gpu*``): every one of them installs into the same ``faiss/`` folder."""
    names = {(n.lower().replace("_", "-"), v) for n, v in installed}
    return sorted(f"{n} {v}" for n, v in names if n == "faiss" or n.startswith("faiss-"))


def faiss_backend(kind: str):
    """:mod:`zelo.retrieval.faiss_index`, imported on first use: only ``ivf``/``hnsw`` need FAISS.

    Raises:
        ZeloError: two FAISS builds share one ``faiss/`` folder (one shadows the other's files).
        MissingDependency: FAISS is not installed (or cannot be imported).
    """
    global _faiss_index
    if _faiss_index is not None:
        return _faiss_index
    installed = ((d.metadata["Name"] or "", d.version) for d in metadata.distributions())
    builds = faiss_builds(installed)
    if len(builds) > 1:
        raise ZeloError(
            f"two FAISS builds are installed into one faiss/ folder ({', '.join(builds)}): one "
            "shadows the other's files; uninstall them all, then install one (zelo's `cpu` or "
            "`gpu` extra)"
        )
    try:
        import zelo.retrieval.faiss_index as faiss_index
    except ImportError as err:
        raise MissingDependency(
            f"index={kind} needs FAISS, which cannot be imported here ({err}): install faiss-cpu "
            "(`pip install faiss-cpu`, or zelo's `cpu` extra) or a faiss GPU build that matches "
            "your CUDA; exact search (index=flat) needs no FAISS"
        ) from err
    _faiss_index = faiss_index
    return faiss_index
