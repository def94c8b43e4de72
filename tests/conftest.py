"""Shared fixtures: the composed test config (``debug=tiny``) with paths under ``tmp_path``, and a
tiny deterministic encoder that counts its calls."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from torch import nn

from zelo.mining.base import ScorerBase
from zelo.models.encoders import Encoder
from zelo.schemas import register_configs

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))


def compose_config(overrides: list[str], out_dir: Path, cache_dir: Path) -> DictConfig:
    """Compose ``conf/train.yaml`` as ``train.py`` would, with every path under ``out_dir``."""
    register_configs()
    GlobalHydra.instance().clear()
    with initialize(config_path="../conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir)
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.data_dir = str(DATA_DIR)
        cfg.hydra.runtime.output_dir = str(out_dir)
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    return cfg


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache per test session, so MiniLM encodes each corpus once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_cfg(tmp_path: Path, cache_dir: Path) -> Iterator:
    """``make_cfg(*overrides)`` composes the tiny preset plus overrides into ``tmp_path``."""

    def _make(*overrides: str) -> DictConfig:
        return compose_config(["debug=tiny", *overrides], tmp_path, cache_dir)

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture
def cfg_tiny(make_cfg) -> DictConfig:
    return make_cfg()


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

    def encode(self, texts, batch_size=64, is_query=False, progress=None):
        self.calls += 1
        return super().encode(texts, batch_size, is_query, progress)


@pytest.fixture
def hash_encoder() -> type[HashEncoder]:
    """The :class:`HashEncoder` class: call it for a fresh encoder (``hash_encoder(seed=1)``)."""
    return HashEncoder


class FakeScorer(ScorerBase):
    """Fixed scores ``[Q, N]`` over a tiny corpus; ranks with ties broken by the lower doc id
    (``min(depth, N)`` columns) and counts its ``rank`` calls."""

    softmax_temperature = 1.0

    def __init__(self, table, name: str = "fake") -> None:
        self.table = torch.as_tensor(table, dtype=torch.float32)
        self.name = name
        self.rank_calls = 0

    def rank(self, inp, depth):
        self.rank_calls += 1
        order = self.table.argsort(dim=1, descending=True, stable=True)[:, :depth]
        return order, torch.gather(self.table, 1, order)

    def score(self, inp, doc_ids):
        vals = torch.gather(self.table, 1, doc_ids.clamp(min=0))
        return torch.where(doc_ids >= 0, vals, torch.full_like(vals, float("nan")))


@pytest.fixture
def fake_scorer() -> type[FakeScorer]:
    """The :class:`FakeScorer` class: ``fake_scorer(table)`` scores a tiny corpus by a table."""
    return FakeScorer


@pytest.fixture
def candidate_set():
    """``candidate_set(scores, pos_scores=None, keep=None, ids=None)`` builds a CandidateSet."""
    from zelo.types import CandidateSet

    def make(scores, pos_scores=None, keep=None, ids=None, positives=None, judgments=None):
        scores = torch.as_tensor(scores, dtype=torch.float32)
        q, k = scores.shape
        ids = torch.arange(k).expand(q, k).clone() if ids is None else torch.as_tensor(ids)
        pos = torch.full((q, 1), float("nan")) if pos_scores is None else pos_scores
        keep = ids >= 0 if keep is None else torch.as_tensor(keep)
        positives = torch.full((q, 1), -1) if positives is None else positives
        return CandidateSet(ids, scores, torch.as_tensor(pos), keep, positives, judgments)

    return make
