"""Embedding matrices in memory or in ``.npy`` files, read and written in row blocks.

A file is read with ``pread`` into one reused buffer, never memory-mapped whole, so streaming a
million rows through a search or an index build keeps only one block in the process's memory.
:class:`NpyRowWriter` fills a ``.npy`` file chunk by chunk and records its progress and each
chunk's checksum, so an interrupted encoding resumes from the last chunk written and a reader can
tell a damaged file.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import xxhash

from zelo.utils.io import (
    atomic_write_json,
    create_temporary,
    remove_temporary,
    sweep_temporaries,
)

log = logging.getLogger(__name__)

BLOCK_ROWS = 32768  # rows per block: 48 MiB at D = 384
PARTIAL_SUFFIX = ".partial"  # a file being filled by NpyRowWriter


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

    Rows go to a new temporary file beside ``path`` (``.<name>.zelo-...partial``, created
    ``O_EXCL``; written in place, not held in memory); after every chunk the row count, the
    temporary's name and each chunk's checksum are recorded in ``<path>.partial.json``. A new
    writer for the same path and shape resumes at that count, in that file if it is still this
    user's regular file of the right size. :meth:`finish` renames the file into place.

    Args:
        path: the final ``.npy`` path.
        n: rows.
        dim: columns.
    """

    def __init__(self, path: str | os.PathLike, n: int, dim: int) -> None:
        self.path = Path(path)
        self.progress = self.path.with_name(self.path.name + ".partial.json")
        self.shape = (int(n), int(dim))
        self.partial: Path | None = None
        self.blocks: list[list[int]] = []  # [rows, checksum] per chunk written, in order
        self._offset = 0
        self.rows_done = self._resume()
        if self.rows_done == 0:
            self._create()

    def _resume(self) -> int:
        try:
            state = json.loads(self.progress.read_text())
            name = str(state["file"])
            blocks = [[int(r), int(c)] for r, c in state["blocks"]]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        if "/" in name or not name.startswith(f".{self.path.name}.zelo-"):
            return 0
        partial = self.path.with_name(name)
        try:
            fd = os.open(partial, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                info = os.fstat(fd)
            finally:
                os.close(fd)
            shape, dtype, offset = npy_layout(partial)
        except (OSError, ValueError):
            return 0
        size_ok = info.st_size == offset + self.shape[0] * self.shape[1] * 4
        ours = stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
        if tuple(shape) != self.shape or dtype != np.dtype("<f4") or not (size_ok and ours):
            return 0
        done = sum(r for r, _ in blocks)
        if not 0 < done <= self.shape[0] or done != int(state.get("rows", -1)):
            return 0
        self.partial, self.blocks, self._offset = partial, blocks, offset
        log.info("resuming %s at row %d of %d", self.path.name, done, self.shape[0])
        return done

    def _create(self) -> None:
        sweep_temporaries(self.path.parent, target=self.path.name)  # a killed writer's
        self.progress.unlink(missing_ok=True)
        header = {"descr": "<f4", "fortran_order": False, "shape": self.shape}
        fd, self.partial = create_temporary(self.path, suffix=PARTIAL_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.lib.format.write_array_header_1_0(fh, header)
                self._offset = fh.tell()
                fh.truncate(self._offset + self.shape[0] * self.shape[1] * 4)
        except BaseException:
            remove_temporary(self.partial)
            raise
        self.blocks = []

    def write(self, rows: np.ndarray | torch.Tensor) -> None:
        """Write ``rows [m, D]`` after the rows already written, then record the new count."""
        arr = np.ascontiguousarray(torch.as_tensor(rows).to("cpu", torch.float32).numpy())
        if arr.ndim != 2 or arr.shape[1] != self.shape[1]:
            raise ValueError(f"rows must be [m, {self.shape[1]}], got {arr.shape}")
        if self.rows_done + len(arr) > self.shape[0]:
            raise ValueError(f"{self.path}: more than {self.shape[0]} rows written")
        data = memoryview(arr).cast("B")
        at = self._offset + self.rows_done * self.shape[1] * 4
        fd = os.open(self.partial, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            done = 0
            while done < len(data):
                done += os.pwrite(fd, data[done:], at + done)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.rows_done += len(arr)
        self.blocks.append([len(arr), block_checksum(arr)])
        atomic_write_json(
            self.progress,
            {
                "rows": self.rows_done,
                "shape": list(self.shape),
                "file": self.partial.name,
                "blocks": self.blocks,
            },
        )

    def finish(self) -> Path:
        """Move the complete file into place; returns its path (:attr:`blocks` holds each
        chunk's rows and checksum)."""
        if self.rows_done != self.shape[0]:
            raise ValueError(f"{self.path}: {self.rows_done} of {self.shape[0]} rows written")
        os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)
        return self.path


def block_checksum(rows: np.ndarray) -> int:
    """xxh3-64 of a C-ordered float32 block's bytes (the embedding cache's checksum: about 3x
    faster than CRC-32 here, and as good at telling damaged data)."""
    return xxhash.xxh3_64_intdigest(
        memoryview(np.ascontiguousarray(rows, dtype=np.float32)).cast("B")
    )
