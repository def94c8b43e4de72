"""Read a ``datasets.Dataset`` from a local folder or file (the precomputed miner, the pairs
loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zelo.errors import require

READERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def load_local(path: str | Path, error: type[Exception], label: str, needed_by: str) -> Any:
    """A ``datasets.Dataset`` from a ``save_to_disk`` folder or a JSON(L)/CSV/Parquet file.

    Args:
        path: the folder or file.
        error: the exception class to raise (a config or a data error).
        label: how the messages name the path (``miner.scorer.path=...``).
        needed_by: what needs the ``datasets`` package (named when it is missing).

    Raises:
        error: no dataset there, a ``DatasetDict``, or an unknown file type.
    """
    datasets = require("datasets", needed_by)
    path = Path(path)
    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except FileNotFoundError as err:
            raise error(f"{label}: not a dataset saved with save_to_disk ({err})") from None
        if isinstance(ds, datasets.DatasetDict):
            raise error(f"{label}: a DatasetDict ({list(ds)}); pass one split's folder")
        return ds
    if not path.is_file():
        raise error(f"no dataset at {label}: no such folder or file")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise error(f"{label}: unknown dataset file type (use a folder or {sorted(READERS)})")
    return getattr(datasets.Dataset, f"from_{kind}")(str(path))
