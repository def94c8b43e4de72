"""CUDA paths: the encoder on the GPU, a GPU training run, FAISS's GPU/CPU choice (need CUDA)."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from zelo.models.transformer import TransformerEncoder
from zelo.pipeline import train
from zelo.retrieval import build_searcher, faiss_index

pytestmark = pytest.mark.gpu
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TEXTS = ["heat transfer in laminar flow", "vitamin d and bone density", "a short query", ""]


@cuda
def test_minilm_on_cuda_matches_cpu() -> None:
    cpu = TransformerEncoder("minilm", max_length=128)
    a = cpu.encode(TEXTS)
    b = cpu.to("cuda").encode(TEXTS)
    assert (a * b).sum(-1).min() > 0.999


@cuda
def test_gpu_training_run(make_cfg, tmp_path) -> None:
    cfg = make_cfg("trainer=gpu", "miner=random", "trainer.max_epochs=1")
    metrics = train(cfg)
    assert math.isfinite(metrics["test/ndcg@10"])
    assert math.isfinite(metrics["train/loss"])


@cuda
def test_exact_search_on_cuda_and_ivf_gpu_or_logged_fallback(caplog, monkeypatch) -> None:
    monkeypatch.setattr(faiss_index, "_cpu_fallback_logged", False)
    q, d = torch.randn(8, 16), torch.randn(100, 16)
    exact = (q @ d.T).topk(5).indices
    assert torch.equal(build_searcher(d, use_gpu="auto").search(q, k=5)[1], exact)
    with caplog.at_level(logging.INFO, logger="zelo.retrieval.faiss_index"):
        ivf = build_searcher(d, "ivf", use_gpu="auto", nprobe=100)
    assert torch.equal(ivf.search(q, k=5)[1], exact)  # every list probed: exact
    if not faiss_index.faiss_info()["gpus"]:
        assert "approximate search on the CPU" in caplog.text
