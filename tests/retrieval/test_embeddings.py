from __future__ import annotations

import numpy as np
import pytest
import torch

from zelo.retrieval.embeddings import EmbeddingMatrix, NpyRowWriter


def test_file_blocks_and_rows_equal_the_array(tmp_path):
    arr = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
    np.save(tmp_path / "e.npy", arr)
    emb = EmbeddingMatrix(tmp_path / "e.npy")
    assert emb.shape == (7, 3) and emb.nbytes == 7 * 3 * 4
    blocks = [(start, b.clone()) for start, b in emb.blocks(rows=3)]
    assert [s for s, _ in blocks] == [0, 3, 6]
    assert torch.equal(torch.cat([b for _, b in blocks]), torch.from_numpy(arr))
    assert emb.rows([6, 0]).tolist() == [arr[6].tolist(), arr[0].tolist()]
    in_memory = EmbeddingMatrix(torch.from_numpy(arr))
    assert torch.equal(in_memory.rows([6, 0]), emb.rows([6, 0]))


def test_bad_files_are_one_clear_error(tmp_path):
    np.save(tmp_path / "i.npy", np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="i.npy"):
        EmbeddingMatrix(tmp_path / "i.npy")
    (tmp_path / "t.npy").write_bytes(b"junk")
    with pytest.raises(ValueError):
        EmbeddingMatrix(tmp_path / "t.npy")
    np.save(tmp_path / "s.npy", np.zeros((4, 2), dtype=np.float32))
    data = (tmp_path / "s.npy").read_bytes()
    (tmp_path / "s.npy").write_bytes(data[:-8])  # a row short
    with pytest.raises(ValueError, match="truncated"):
        list(EmbeddingMatrix(tmp_path / "s.npy").blocks())


def test_writer_resumes_after_an_interruption(tmp_path):
    arr = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    path = tmp_path / "e.npy"
    first = NpyRowWriter(path, 10, 4)
    first.write(arr[:4])
    first.write(arr[4:6])
    assert not path.exists()  # nothing in place until finished
    again = NpyRowWriter(path, 10, 4)  # e.g. the next run after a kill
    assert again.rows_done == 6
    again.write(arr[6:])
    assert again.finish() == path
    assert np.array_equal(np.load(path), arr)
    assert not list(tmp_path.glob("*.partial*"))


def test_writer_restarts_when_the_shape_differs_or_rows_overflow(tmp_path):
    path = tmp_path / "e.npy"
    NpyRowWriter(path, 10, 4).write(np.zeros((3, 4), dtype=np.float32))
    assert NpyRowWriter(path, 12, 4).rows_done == 0
    writer = NpyRowWriter(path, 2, 4)
    with pytest.raises(ValueError):
        writer.write(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        writer.finish()
