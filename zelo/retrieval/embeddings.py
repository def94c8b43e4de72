"""Embedding matrices in memory or in ``.npy`` files, read and written in row blocks.

A file is read with ``pread`` into one reused buffer, never memory-mapped whole, so streaming a
million rows through a search or an index build keeps only one block in the process's memory.
:class:`NpyRowWriter` fills a ``.npy`` file chunk by chunk and records its progress, so an
interrupted encoding resumes from the last chunk written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from zelo.utils.io import atomic_write_json

log = logging.getLogger(__name__)

BLOCK_ROWS = 32768  # rows per block: 48 MiB at D = 384


def npy_layout(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a C-ordered ``.npy`` file (header only).

    Raises:
        ValueError: the file is not a C-ordered ``.npy`` array.
    """
    with open(path, "rb") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read(fh)
        offset = fh.tell()
    if fortran:
        raise ValueError(f"{path}: Fortran-ordered arrays are not supported")
    return shape, dtype, offset


class EmbeddingMatrix:
    """A read-only ``[N, D]`` float32 matrix: a tensor, or a ``.npy`` file read in blocks.

    Args:
        source: a ``[N, D]`` tensor (used in place) or the path of a float32 ``.npy`` file.
    """

    def __init__(self, source: torch.Tensor | str | os.PathLike) -> None:
        self.path: Path | None = None
        self.tensor: torch.Tensor | None = None
        if isinstance(source, torch.Tensor):
            if source.ndim != 2:
                raise ValueError(f"embeddings must be [N, D], got {tuple(source.shape)}")
            self.tensor = source.detach()
            self.shape = (int(source.shape[0]), int(source.shape[1]))
            return
        self.path = Path(source)
        shape, dtype, self._offset = npy_layout(self.path)
        if len(shape) != 2 or dtype != np.dtype("<f4"):
            raise ValueError(f"{self.path}: need a [N, D] float32 array, got {shape} {dtype}")
        self.shape = (int(shape[0]), int(shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def dim(self) -> int:
        return self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * 4

    def blocks(
        self, rows: int = BLOCK_ROWS, device: str | torch.device = "cpu"
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first_row, [b, D] float32 block)`` in order; a file's block is a reused buffer."""
        if self.tensor is not None:
            for start in range(0, len(self), rows):
                yield start, self.tensor[start : start + rows].to(device, torch.float32)
            return
        buf = np.empty((min(rows, max(len(self), 1)), self.dim), dtype=np.float32)
        with open(self.path, "rb", buffering=0) as fh:
            for start in range(0, len(self), rows):
                out = buf[: min(rows, len(self) - start)]
                self._read_into(fh, start, out)
                yield start, torch.from_numpy(out).to(device)

    def rows(self, ids: torch.Tensor | list[int]) -> torch.Tensor:
        """A copy of the given rows ``[len(ids), D]`` (float32, CPU)."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if self.tensor is not None:
            return self.tensor[ids].to("cpu", torch.float32)
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        with open(self.path, "rb", buffering=0) as fh:
            for j, i in enumerate(ids.tolist()):
                self._read_into(fh, i, out[j : j + 1])
        return torch.from_numpy(out)

    def _read_into(self, fh, start: int, out: np.ndarray) -> None:
        view = memoryview(out).cast("B")
        pos, offset = 0, self._offset + start * self.dim * 4
        while pos < len(view):
            got = os.preadv(fh.fileno(), [view[pos:]], offset + pos)
            if got <= 0:
                raise ValueError(
                    f"{self.path}: truncated at row {start} (file shorter than header)"
                )
            pos += got


class NpyRowWriter:
    """Writes a ``[N, D]`` float32 ``.npy`` file in row chunks; resumable after a kill.

    Rows go to ``<path>.partial`` (written in place, not held in memory); after every chunk the
    row count is recorded in ``<path>.partial.json``. A new writer for the same path and shape
    resumes at that count. :meth:`finish` renames the file into place atomically.

    Args:
        path: the final ``.npy`` path.
        n: rows.
        dim: columns.
    """

    def __init__(self, path: str | os.PathLike, n: int, dim: int) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.progress = self.path.with_name(self.path.name + ".partial.json")
        self.shape = (int(n), int(dim))
        self.rows_done = self._resume()
        if self.rows_done == 0:
            self._create()

    def _resume(self) -> int:
        try:
            state = json.loads(self.progress.read_text())
            shape, dtype, offset = npy_layout(self.partial)
        except (OSError, ValueError, json.JSONDecodeError):
            return 0
        size_ok = self.partial.stat().st_size == offset + self.shape[0] * self.shape[1] * 4
        if tuple(shape) != self.shape or dtype != np.dtype("<f4") or not size_ok:
            return 0
        done = int(state.get("rows", 0))
        if 0 < done <= self.shape[0]:
            log.info("resuming %s at row %d of %d", self.path.name, done, self.shape[0])
            return done
        return 0

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.progress.unlink(missing_ok=True)
        header = {"descr": "<f4", "fortran_order": False, "shape": self.shape}
        with open(self.partial, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.truncate(fh.tell() + self.shape[0] * self.shape[1] * 4)

    def write(self, rows: np.ndarray | torch.Tensor) -> None:
        """Append ``rows [m, D]`` after the rows already written, then record the new count."""
        arr = np.ascontiguousarray(torch.as_tensor(rows).to("cpu", torch.float32).numpy())
        if arr.ndim != 2 or arr.shape[1] != self.shape[1]:
            raise ValueError(f"rows must be [m, {self.shape[1]}], got {arr.shape}")
        if self.rows_done + len(arr) > self.shape[0]:
            raise ValueError(f"{self.path}: more than {self.shape[0]} rows written")
        offset = npy_layout(self.partial)[2] + self.rows_done * self.shape[1] * 4
        with open(self.partial, "r+b") as fh:
            fh.seek(offset)
            fh.write(memoryview(arr).cast("B"))
            fh.flush()
            os.fsync(fh.fileno())
        self.rows_done += len(arr)
        atomic_write_json(self.progress, {"rows": self.rows_done, "shape": list(self.shape)})

    def finish(self) -> Path:
        """Move the complete file into place; returns its path."""
        if self.rows_done != self.shape[0]:
            raise ValueError(f"{self.path}: {self.rows_done} of {self.shape[0]} rows written")
        os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)
        return self.path
