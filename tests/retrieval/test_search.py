from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from zelo.retrieval import build_searcher, faiss_index, searcher, searcher_for
from zelo.retrieval.faiss_index import faiss_info


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
    scores, ids = build_searcher(docs, use_gpu=False).search(queries, 10)
    ref_scores, ref_ids = (queries @ docs.T).topk(10, dim=1)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(scores, ref_scores, rtol=1e-5, atol=1e-5)
    assert scores.dtype == torch.float32 and ids.dtype == torch.long


def test_file_backed_flat_equals_in_memory(tmp_path):
    queries, docs = _random(30, 1000, 16)
    path = tmp_path / "docs.npy"
    np.save(path, docs.numpy())
    in_memory = build_searcher(docs, use_gpu=False, block_rows=128).search(queries, 20)
    on_disk = build_searcher(path, use_gpu=False, block_rows=128).search(queries, 20)
    assert torch.equal(in_memory[1], on_disk[1]) and torch.equal(in_memory[0], on_disk[0])


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_is_measured_and_stated(kind):
    queries, docs = _clustered(n=2000, q=50)
    _, exact = build_searcher(docs, "flat", use_gpu=False).search(queries, 10)
    approx = build_searcher(docs, kind, use_gpu=False)
    _, found = approx.search(queries, 10)
    hits = sum(len(set(a) & set(e)) for a, e in zip(found.tolist(), exact.tolist(), strict=True))
    assert hits / exact.numel() >= 0.9
    assert 0.9 <= approx.recall_at_100 <= 1.0 and approx.kind == kind


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_k_larger_than_corpus_is_padded(kind):
    queries, docs = _random(3, 5, 8)
    scores, ids = build_searcher(docs, kind, use_gpu=False).search(queries, 8)
    assert scores.shape == ids.shape == (3, 8)
    assert (ids[:, 5:] == -1).all() and torch.isinf(scores[:, 5:]).all()
    assert (scores[:, 5:] < 0).all()
    assert sorted(ids[0, :5].tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_ties_break_by_lower_id(kind):
    docs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.5, 0.0]])
    queries = torch.tensor([[1.0, 0.0]]).repeat(30, 1)
    scores, ids = build_searcher(docs, kind, use_gpu=False).search(queries, 4)
    assert (ids == torch.tensor([0, 2, 3, 4])).all()
    assert (scores == torch.tensor([1.0, 1.0, 1.0, 0.5])).all()


def test_empty_inputs_and_bad_args():
    queries, docs = _random(2, 4, 8)
    scores, ids = build_searcher(docs[:0], use_gpu=False).search(queries, 3)
    assert (ids == -1).all() and scores.shape == (2, 3)
    assert build_searcher(docs, use_gpu=False).search(queries[:0], 3)[1].shape == (0, 3)
    with pytest.raises(ValueError, match="kind"):
        build_searcher(docs, kind="lsh")
    with pytest.raises(ValueError, match=r"\[Q, 8\]"):
        build_searcher(docs, use_gpu=False).search(queries[:, :4], 2)


def test_searcher_for_builds_once_per_key(monkeypatch):
    monkeypatch.setattr(searcher, "_registry", type(searcher._registry)())
    queries, docs = _random(4, 50, 8)
    before = searcher.build_counts["flat"]
    first = searcher_for(docs, "key-a", use_gpu=False)
    assert searcher_for(docs, "key-a", use_gpu=False) is first
    assert searcher.build_counts["flat"] == before + 1
    other = searcher_for(docs * 2, "key-b", use_gpu=False)
    assert other is not first and searcher.build_counts["flat"] == before + 2
    assert torch.equal(first.search(queries, 5)[1], other.search(queries, 5)[1])


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_is_trained_once_and_cached(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(searcher, "_registry", type(searcher._registry)())
    queries, docs = _clustered(n=1500, q=20)
    built = []
    original = getattr(faiss_index, f"build_{kind}")
    monkeypatch.setattr(
        faiss_index, f"build_{kind}", lambda *a, **kw: built.append(1) or original(*a, **kw)
    )
    first = searcher_for(docs, "emb", kind, use_gpu=False, cache_dir=tmp_path)
    searcher._registry.clear()  # a new process: only the files remain
    second = searcher_for(docs, "emb", kind, use_gpu=False, cache_dir=tmp_path)
    assert len(built) == 1 and second is not first
    assert torch.equal(first.search(queries, 10)[1], second.search(queries, 10)[1])
    assert len(list(tmp_path.glob(f"emb.{kind}*.faiss"))) == 1
    meta = json.loads(next(tmp_path.glob(f"emb.{kind}*.json")).read_text())
    assert list(meta["recall_at_100"].values()) == [first.recall_at_100]
    assert second.recall_at_100 == first.recall_at_100


def test_corrupt_index_file_is_rebuilt(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(searcher, "_registry", type(searcher._registry)())
    _, docs = _clustered(n=1000, q=1)
    searcher_for(docs, "emb", "ivf", use_gpu=False, cache_dir=tmp_path)
    searcher._registry.clear()
    next(tmp_path.glob("*.faiss")).write_bytes(b"not an index")
    rebuilt = searcher_for(docs, "emb", "ivf", use_gpu=False, cache_dir=tmp_path)
    assert "rebuilding" in caplog.text and rebuilt.index.ntotal == 1000


def test_auto_gpu_falls_back_once_with_a_log(caplog, monkeypatch):
    if torch.cuda.is_available() or faiss_info()["gpus"]:
        pytest.skip("a GPU is present")
    monkeypatch.setattr(searcher, "_cuda_fallback_logged", False)
    queries, docs = _random(2, 10, 4)
    with caplog.at_level(logging.INFO, logger="zelo.retrieval.searcher"):
        build_searcher(docs).search(queries, 2)
        build_searcher(docs).search(queries, 2)
    assert sum("CPU" in r.message for r in caplog.records) == 1
    with pytest.raises(RuntimeError):
        build_searcher(docs, use_gpu=True)
    with pytest.raises(RuntimeError):
        build_searcher(docs, "ivf", use_gpu=True)


def test_faiss_info():
    info = faiss_info()
    assert set(info) >= {"version", "gpus"} and isinstance(info["gpus"], int)


@pytest.mark.faiss_gpu
def test_gpu_search_equals_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    queries, docs = _random(30, 500, 32)
    cpu = build_searcher(docs, use_gpu=False).search(queries, 10)
    gpu = build_searcher(docs, use_gpu=True).search(queries, 10)
    assert torch.equal(cpu[1], gpu[1])
    torch.testing.assert_close(cpu[0], gpu[0], rtol=1e-4, atol=1e-4)


def test_ivf_gemm_scan_equals_faiss_scan():
    queries, docs = _clustered(n=3000, q=40, d=16, centres=30)
    emb = faiss_index.EmbeddingMatrix(docs)
    index = faiss_index.build_ivf(emb, nlist=30)
    faiss_index.set_search_params(index, nprobe=4)
    ref_s, ref_i = faiss_index.index_search(index, queries, 50)
    s, i = faiss_index.ivf_search(index, queries, 50, nprobe=4)
    torch.testing.assert_close(s, ref_s, rtol=1e-5, atol=1e-5)
    same = sum(len(set(a) & set(b)) for a, b in zip(i.tolist(), ref_i.tolist(), strict=True))
    assert same >= 0.999 * i.numel()  # only near-ties may differ (float rounding)
