from __future__ import annotations

import json
import zlib

import numpy as np
import torch
from torch import nn

from zelo.mining.cache import cache_key, cached_encode
from zelo.models.encoders import Encoder


class HashEncoder(Encoder):
    """Hashed bag of words -> mean of embeddings; counts calls to :meth:`encode`."""

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


TEXTS = ["the cat sat", "a dog ran far", "", "cat and dog"]


def test_second_call_is_a_hit(tmp_path):
    enc = HashEncoder()
    first = cached_encode(enc, TEXTS, tmp_path)
    second = cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 1
    assert torch.equal(first, second) and first.shape == (4, 8)
    torch.testing.assert_close(first, enc.encode(TEXTS))
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["count"] == 4 and sidecar["encoder"]["class"] == "HashEncoder"


def test_misses_on_other_texts_side_or_weights(tmp_path):
    enc = HashEncoder()
    cached_encode(enc, TEXTS, tmp_path)
    cached_encode(enc, TEXTS[:3], tmp_path)
    cached_encode(enc, TEXTS, tmp_path, is_query=True)
    assert enc.calls == 3
    with torch.no_grad():
        enc.emb.weight[1:] += 1.0
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 4
    assert len(list(tmp_path.glob("*.npy"))) == 4


def test_key_is_unambiguous():
    assert cache_key("f", ["a b"], False) != cache_key("f", ["a", "b"], False)
    assert cache_key("f", ["ab", ""], False) != cache_key("f", ["a", "b"], False)


def test_corrupt_or_mismatched_file_is_recomputed(tmp_path, caplog):
    enc = HashEncoder()
    ref = cached_encode(enc, TEXTS, tmp_path)
    path = next(tmp_path.glob("*.npy"))
    path.write_bytes(b"not an array")
    torch.testing.assert_close(cached_encode(enc, TEXTS, tmp_path), ref)
    assert enc.calls == 2 and "recomputing" in caplog.text
    np.save(path, np.zeros((2, 8), dtype=np.float32))
    torch.testing.assert_close(cached_encode(enc, TEXTS, tmp_path), ref)
    assert enc.calls == 3
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 3  # the rewritten file is good again


def test_no_cache_dir_always_encodes(tmp_path):
    enc = HashEncoder()
    cached_encode(enc, TEXTS, None)
    cached_encode(enc, TEXTS, None)
    assert enc.calls == 2
