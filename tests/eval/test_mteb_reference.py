"""Zero-shot all-MiniLM-L6-v2 through zelo's evaluation reproduces MTEB's nDCG@10.

The test split is scored by ``BiEncoderModule``'s own test loop (query tokenisation, search,
per-query metrics, aggregation), as in a training run, with the model at MTEB's settings (max
length 256 for documents and queries, document = title + " " + text). Only the corpus encoding
is read through the on-disk embedding cache (``cached_encode``, the same ``encoder.encode`` on a
miss) so that reruns skip the minutes of MiniLM encoding; ``bench/mteb_reference.py`` fills the
same cache and prints the figures beside MTEB's and sentence-transformers + pytrec_eval's.

References (MTEB leaderboard, all-MiniLM-L6-v2): NFCorpus 31.43, SciFact 64.51.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning.pytorch as pl
import pytest

from zelo.data.beir import load_beir
from zelo.data.datamodule import RetrievalDataModule
from zelo.data.splits import build_query_sets, resolve_splits
from zelo.losses.infonce import InfoNCELoss
from zelo.models.biencoder import BiEncoderModule
from zelo.models.transformer import TransformerEncoder
from zelo.retrieval.cache import cached_encode

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
CACHE_DIR = Path(os.environ.get("ZELO_CACHE_DIR", REPO / "outputs" / "cache")) / "embeddings"
BAND = 0.005
# name -> (expected nDCG@10, dev qrels split or None for a seeded dev)
REFERENCES = {"nfcorpus": (0.314, "dev"), "scifact": (0.645, None)}


def _cached_corpus(self: BiEncoderModule) -> None:
    """``BiEncoderModule._encode_corpus`` with the corpus read through the embedding cache."""
    self._corpus = cached_encode(
        self.encoder, self.corpus, CACHE_DIR, batch_size=self.hparams.corpus_batch_size
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_zero_shot_minilm_matches_mteb(name: str, monkeypatch) -> None:
    if not (DATA_DIR / name).is_dir():
        pytest.fail(f"no {name} under {DATA_DIR}: set ZELO_DATA_DIR to the BEIR collections")
    expected, dev = REFERENCES[name]
    collection = load_beir(DATA_DIR / name)
    splits = resolve_splits(collection, train="train", dev=dev, test="test")
    encoder = TransformerEncoder("minilm", max_length=256, query_max_length=256)
    module = BiEncoderModule(
        encoder, InfoNCELoss(), corpus=collection.doc_texts, corpus_batch_size=64
    )
    query_sets = build_query_sets(collection, splits)
    datamodule = RetrievalDataModule(collection, query_sets, None, encoder, eval_batch_size=64)
    monkeypatch.setattr(BiEncoderModule, "_encode_corpus", _cached_corpus)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    result = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    assert len(datamodule.query_sets["test"]) == {"nfcorpus": 323, "scifact": 300}[name]
    assert abs(result["test/ndcg@10"] - expected) <= BAND, result
