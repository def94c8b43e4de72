"""Folders zelo writes whole (the saved student, a ``zelo-mine`` dataset) carry a manifest of the
files zelo put there, so that replacing or removing the folder touches those files only.

``<folder>/.zelo_manifest.json`` lists each file zelo wrote (relative path -> size in bytes). A
file not listed, or listed with another size (edited since), is someone else's and is never
deleted or overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from zelo.utils.io import atomic_write_json, create_temporary_folder

log = logging.getLogger(__name__)

MANIFEST = ".zelo_manifest.json"
CLASH_SUFFIX = ".zelo"  # zelo's new file beside someone else's of the same name


def files_of(folder: Path) -> dict[str, int]:
    """Every file or link under ``folder`` as relative path -> size (a link: its own size)."""
    out = {}
    for root, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root) / name
            out[path.relative_to(folder).as_posix()] = path.lstat().st_size
    out.pop(MANIFEST, None)
    return out


def write_manifest(folder: Path) -> None:
    """List every file now in ``folder`` as zelo's."""
    atomic_write_json(folder / MANIFEST, {"files": files_of(folder)})


def owned_files(folder: Path) -> set[str]:
    """The files of ``folder`` its manifest lists at their listed size (empty: no manifest)."""
    try:
        listed = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    present = files_of(folder)
    return {f for f, size in listed.items() if present.get(f) == size}


def foreign_files(folder: Path) -> list[str]:
    """Files in ``folder`` zelo did not write (or that were edited since), sorted."""
    if not folder.is_dir():
        return []
    ours = owned_files(folder)
    return sorted(f for f in files_of(folder) if f not in ours)


def remove_owned(folder: Path) -> list[str]:
    """Delete the files zelo wrote in ``folder``, its manifest, then every folder left empty
    (``folder`` itself included). Returns the files left (someone else's)."""
    for name in owned_files(folder):
        (folder / name).unlink()
    (folder / MANIFEST).unlink(missing_ok=True)
    for root, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        try:
            os.rmdir(root)
        except OSError:  # not empty: someone else's files are in it
            pass
    return foreign_files(folder) if folder.exists() else []


def install_folder(new: Path, dest: Path) -> list[str]:
    """Put the finished folder ``new`` (a temporary beside ``dest``) at ``dest``, with a manifest.

    When ``dest`` exists, the files zelo wrote there are replaced and every other file is kept in
    place; where one of those has the name of a new file, it stays and zelo's new file is saved
    beside it as ``<name>.zelo``.

    Returns:
        The files of someone else's that were kept in ``dest``.
    """
    kept = foreign_files(dest)
    for name in kept:
        target = new / name
        if target.exists() or target.is_symlink():
            os.replace(target, target.with_name(target.name + CLASH_SUFFIX))
            log.warning(
                "%s is not zelo's: kept; the new one is %s", dest / name, name + CLASH_SUFFIX
            )
    write_manifest(new)  # zelo's files only
    for name in kept:  # someone else's files stay where they were
        (new / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(dest / name, new / name)
    if not dest.exists():
        os.replace(new, dest)
        return kept
    old = create_temporary_folder(dest)
    os.rmdir(old)
    os.replace(dest, old)  # all that is left there is zelo's earlier output
    os.replace(new, dest)
    left = remove_owned(old)
    if left:
        log.warning("%s: files appeared while it was replaced; kept in %s: %s", dest, old, left)
    return kept
