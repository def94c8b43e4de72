"""Zero-shot all-MiniLM-L6-v2 through zelo's evaluation reproduces MTEB's nDCG@10.

The test split is scored by ``BiEncoderModule``'s own test loop (query tokenisation, search,
per-query metrics, aggregation), as in a training run, with the model at MTEB's settings (max
length 256 for documents and queries, document = title + " " + text). Only the corpus encoding
is read through the on-disk embedding cache (``cached_encode``, the same ``encoder.encode`` on a
miss) so that reruns skip the minutes of MiniLM encoding; ``bench/mteb_reference.py`` fills the
same cache and prints the figures beside MTEB's and sentence-transformers + pytrec_eval's.

References (MTEB leaderboard, all-MiniLM-L6-v2): NFCorpus 31.43, SciFact 64.51.
all-mpnet-base-v2 (packaged, `make models`; max length 384, its own): NFCorpus 0.33289, SciFact
0.6557 nDCG@10 (MTEB results repository ``embeddings-benchmark/results``,
``results/sentence-transformers__all-mpnet-base-v2/84f2bcc00d77236f9e89c8a360a00fb1139bf47d/``,
mteb 1.12.75). Its corpus encodings take hours on a 2-core CPU: that test is marked ``heavy`` and
reads the embeddings that ``bench/encode_corpora.py`` (or a laffer_real sweep) cached.
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


MPNET_BAND = 0.01
MPNET = {"nfcorpus": 0.33289, "scifact": 0.6557}


def _zero_shot_test_ndcg(name: str, encoder: TransformerEncoder, monkeypatch) -> float:
    """Test nDCG@10 of ``encoder`` on ``name`` through the student's own test loop."""
    if not (DATA_DIR / name).is_dir():
        pytest.fail(f"no {name} under {DATA_DIR}: set ZELO_DATA_DIR to the BEIR collections")
    collection = load_beir(DATA_DIR / name)
    splits = resolve_splits(collection, train="train", dev=REFERENCES[name][1], test="test")
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
    return result["test/ndcg@10"]


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(MPNET))
def test_zero_shot_mpnet_matches_mteb(name: str, monkeypatch) -> None:
    from zelo.models.packaged import INSTALL_COMMAND, is_installed

    if not is_installed("mpnet"):
        pytest.fail(f"the packaged model mpnet is not installed: run `{INSTALL_COMMAND}`")
    encoder = TransformerEncoder("mpnet", max_length=384, query_max_length=384)
    ndcg = _zero_shot_test_ndcg(name, encoder, monkeypatch)
    assert abs(ndcg - MPNET[name]) <= MPNET_BAND, ndcg


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_zero_shot_minilm_matches_mteb(name: str, monkeypatch) -> None:
    encoder = TransformerEncoder("minilm", max_length=256, query_max_length=256)
    ndcg = _zero_shot_test_ndcg(name, encoder, monkeypatch)
    assert abs(ndcg - REFERENCES[name][0]) <= BAND, ndcg
