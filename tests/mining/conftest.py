"""Fixtures for the mining tests: a tiny deterministic encoder that counts its calls."""

from __future__ import annotations

import zlib

import pytest
import torch
from torch import nn

from zelo.models.encoders import Encoder


class HashEncoder(Encoder):
    """Hashed bag of words -> normalised mean of embeddings; counts calls to :meth:`encode`."""

    def __init__(self, dim: int = 8, buckets: int = 64, seed: int = 0) -> None:
        super().__init__(max_length=32)
        self.emb = nn.Embedding(buckets + 1, dim, padding_idx=0)
        with torch.no_grad():
            self.emb.weight[1:] = torch.randn(
                buckets, dim, generator=torch.Generator().manual_seed(seed)
            )
        self.buckets = buckets
        self.calls = 0

    @property
    def dim(self) -> int:
        return self.emb.embedding_dim

    def tokenize(self, texts, max_length=None):
        rows = [
            [1 + zlib.crc32(w.encode()) % self.buckets for w in t.split()][:max_length]
            for t in texts
        ]
        width = max([len(r) for r in rows] + [1])
        return {"input_ids": torch.tensor([r + [0] * (width - len(r)) for r in rows])}

    def forward(self, features):
        ids = features["input_ids"]
        summed = self.emb(ids).sum(1) / (ids > 0).sum(1, keepdim=True).clamp(min=1)
        return nn.functional.normalize(summed, dim=-1)

    def encode(self, texts, batch_size=64, is_query=False, progress=False):
        self.calls += 1
        return super().encode(texts, batch_size, is_query, progress)


@pytest.fixture
def hash_encoder() -> type[HashEncoder]:
    """The :class:`HashEncoder` class: call it for a fresh encoder (``hash_encoder(seed=1)``)."""
    return HashEncoder
