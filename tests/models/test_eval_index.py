"""The evaluation index is built once per state of the student's weights: validation then test
on unchanged weights share one corpus encoding; any change of the weights encodes again."""

from __future__ import annotations

from collections import Counter

import torch

from zelo.losses.infonce import InfoNCELoss
from zelo.models.biencoder import BiEncoderModule

CORPUS = ["alpha beta", "gamma delta", "beta gamma epsilon", "zeta"]


def _module(hash_encoder, monkeypatch) -> tuple[BiEncoderModule, Counter]:
    module = BiEncoderModule(hash_encoder(), InfoNCELoss(), corpus=CORPUS, corpus_batch_size=2)
    counts: Counter = Counter()
    original = BiEncoderModule._encode_corpus

    def counting(self):
        counts["encode"] += 1
        original(self)

    monkeypatch.setattr(BiEncoderModule, "_encode_corpus", counting)
    return module, counts


def test_unchanged_weights_reuse_the_index(hash_encoder, monkeypatch):
    module, counts = _module(hash_encoder, monkeypatch)
    module.on_validation_epoch_start()
    first = module._corpus.clone()
    module.on_test_epoch_start()  # same weights: no second encoding
    assert counts["encode"] == 1
    assert torch.equal(module._corpus, first)


def test_changed_weights_encode_again(hash_encoder, monkeypatch):
    module, counts = _module(hash_encoder, monkeypatch)
    module.on_validation_epoch_start()
    first = module._corpus.clone()
    with torch.no_grad():  # what an optimiser step does: an in-place update
        module.encoder.emb.weight.add_(torch.randn_like(module.encoder.emb.weight))
    module.on_test_epoch_start()
    assert counts["encode"] == 2
    assert not torch.allclose(module._corpus, first)


def test_training_epoch_releases_the_index(hash_encoder, monkeypatch):
    module, counts = _module(hash_encoder, monkeypatch)
    module.on_validation_epoch_start()
    module.on_train_epoch_start()
    assert module._searcher is None and module._corpus is None
    module.on_validation_epoch_start()
    assert counts["encode"] == 2
