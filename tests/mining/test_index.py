from __future__ import annotations

import logging

import pytest
import torch

from zelo.mining import index
from zelo.mining.index import faiss_info, search


def _random(q: int, n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(q, d, generator=g), torch.randn(n, d, generator=g)


def _clustered(n: int, q: int, d: int = 16, centres: int = 20, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    c = torch.nn.functional.normalize(torch.randn(centres, d, generator=g), dim=1)
    docs = c[torch.randint(centres, (n,), generator=g)] + 0.15 * torch.randn(n, d, generator=g)
    queries = c[torch.randint(centres, (q,), generator=g)] + 0.15 * torch.randn(q, d, generator=g)
    norm = torch.nn.functional.normalize
    return norm(queries, dim=1), norm(docs, dim=1)


def test_flat_equals_matmul_topk():
    queries, docs = _random(40, 300, 24)
    scores, ids = search(queries, docs, 10, use_gpu=False)
    ref_scores, ref_ids = (queries @ docs.T).topk(10, dim=1)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(scores, ref_scores, rtol=1e-5, atol=1e-5)
    assert scores.dtype == torch.float32 and ids.dtype == torch.long


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_at_10(kind):
    queries, docs = _clustered(n=2000, q=50)
    _, exact = search(queries, docs, 10, kind="flat", use_gpu=False)
    _, approx = search(queries, docs, 10, kind=kind, use_gpu=False)
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx.tolist(), exact.tolist(), strict=True))
    assert hits / exact.numel() >= 0.9


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_k_larger_than_corpus_is_padded(kind):
    queries, docs = _random(3, 5, 8)
    scores, ids = search(queries, docs, 8, kind=kind, use_gpu=False)
    assert scores.shape == ids.shape == (3, 8)
    assert (ids[:, 5:] == -1).all() and torch.isinf(scores[:, 5:]).all()
    assert (scores[:, 5:] < 0).all()
    assert sorted(ids[0, :5].tolist()) == [0, 1, 2, 3, 4]


def test_ties_break_by_lower_id():
    docs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.5, 0.0]])
    queries = torch.tensor([[1.0, 0.0]]).repeat(30, 1)  # >= 20 queries: FAISS's BLAS path
    scores, ids = search(queries, docs, 4, use_gpu=False)
    assert (ids == torch.tensor([0, 2, 3, 4])).all()
    assert (scores == torch.tensor([1.0, 1.0, 1.0, 0.5])).all()


def test_empty_inputs_and_bad_args():
    queries, docs = _random(2, 4, 8)
    scores, ids = search(queries, docs[:0], 3)
    assert (ids == -1).all() and scores.shape == (2, 3)
    assert search(queries[:0], docs, 3)[1].shape == (0, 3)
    with pytest.raises(ValueError):
        search(queries, docs[:0], 2, kind="lsh")
    with pytest.raises(ValueError):
        search(queries, docs[:, :4], 2)


def test_auto_gpu_falls_back_once_with_a_log(caplog, monkeypatch):
    if faiss_info()["gpus"]:
        pytest.skip("a GPU is present")
    monkeypatch.setattr(index, "_cpu_fallback_logged", False)
    queries, docs = _random(2, 10, 4)
    with caplog.at_level(logging.INFO, logger="zelo.mining.index"):
        search(queries, docs, 2)
        search(queries, docs, 2)
    assert sum("CPU" in r.message for r in caplog.records) == 1
    with pytest.raises(RuntimeError):
        search(queries, docs, 2, use_gpu=True)


def test_faiss_info():
    info = faiss_info()
    assert set(info) >= {"version", "gpus"} and isinstance(info["gpus"], int)


@pytest.mark.faiss_gpu
def test_gpu_flat_equals_cpu():
    if not faiss_info()["gpus"]:
        pytest.skip("faiss has no GPU")
    queries, docs = _random(30, 500, 32)
    cpu = search(queries, docs, 10, use_gpu=False)
    gpu = search(queries, docs, 10, use_gpu=True)
    assert torch.equal(cpu[1], gpu[1])
    torch.testing.assert_close(cpu[0], gpu[0], rtol=1e-4, atol=1e-4)
