"""CUDA paths: the encoder on the GPU, a GPU training run, FAISS's GPU/CPU choice (need CUDA)."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from zelo.mining import index
from zelo.models.transformer import TransformerEncoder
from zelo.pipeline import train

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
def test_faiss_gpu_or_logged_fallback(caplog: pytest.LogCaptureFixture) -> None:
    q, d = torch.randn(8, 16), torch.randn(100, 16)
    with caplog.at_level(logging.INFO, logger="zelo.mining.index"):
        scores, ids = index.search(q, d, k=5, use_gpu="auto")
    exact = (q @ d.T).topk(5).indices
    assert torch.equal(ids, exact)
    if not index.faiss_info()["gpus"]:
        assert index._cpu_fallback_logged  # it says so (once) when it falls back to the CPU
