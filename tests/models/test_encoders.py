from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from zelo.models.encoders import minilm_path
from zelo.models.static import StaticEncoder
from zelo.models.transformer import TransformerEncoder

TEXTS = [
    "What causes rain?",
    "Rain forms when water vapour condenses into droplets heavy enough to fall [SEP] twice.",
    "",
    "Ünïcödé, punctuation!! and a 42-digit number 123456789012345678901234567890123456789012",
]
TINY = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}


def _tiny(**kwargs) -> TransformerEncoder:
    torch.manual_seed(0)
    return TransformerEncoder(minilm_path(), pretrained=False, config_overrides=TINY, **kwargs)


@pytest.fixture(scope="module")
def minilm() -> TransformerEncoder:
    return TransformerEncoder("minilm", pooling="mean", max_length=256)


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    return StaticEncoder()


def _st(path):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(path), device="cpu")


def _min_cos(a, b) -> float:
    return F.cosine_similarity(torch.as_tensor(a), torch.as_tensor(b), dim=-1).min().item()


def test_minilm_matches_sentence_transformers(minilm, tmp_path):
    ours = minilm.encode(TEXTS)
    assert _min_cos(ours, _st(minilm_path()).encode(TEXTS)) >= 0.9999
    minilm.save_sentence_transformer(tmp_path / "st")
    assert _min_cos(ours, _st(tmp_path / "st").encode(TEXTS)) >= 0.9999
    assert minilm.describe()["name"] == "minilm" and minilm.describe()["pooling"] == "mean"


@pytest.mark.parametrize(("pooling", "normalize"), [("mean", True), ("cls", False)])
def test_tiny_encoder_save_round_trip(tmp_path, pooling, normalize):
    enc = _tiny(pooling=pooling, normalize=normalize, max_length=32)
    enc.save_sentence_transformer(tmp_path)
    theirs = torch.as_tensor(_st(tmp_path).encode(TEXTS))
    assert theirs.shape == (len(TEXTS), enc.dim)
    assert _min_cos(enc.encode(TEXTS), theirs) >= 0.9999
    assert torch.allclose(enc.encode(TEXTS).norm(dim=-1), theirs.norm(dim=-1), atol=1e-4)


def test_tiny_encoder_shapes_normalisation_and_seed():
    enc = _tiny(max_length=32, query_max_length=8)
    emb = enc.encode(TEXTS, batch_size=3)
    assert emb.shape == (4, 64) and enc.dim == 64 and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert enc.tokenize(["a " * 100], enc.query_max_length)["input_ids"].shape == (1, 8)
    assert enc.describe()["query_max_length"] == 8
    assert _tiny(max_length=32, query_max_length=8).fingerprint() == enc.fingerprint()
    raw = _tiny(normalize=False).encode(TEXTS)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(4), atol=1e-3)
    assert enc.encode([]).shape == (0, 64)
    assert not any(p.requires_grad for p in enc.model.pooler.parameters())


def test_encode_restores_order():
    enc = _tiny(max_length=32)
    texts = ["short", "a much longer text " * 3, "mid length text", "x", "another one here"]
    batched = enc.encode(texts, batch_size=2)
    one_by_one = torch.cat([enc.encode([t]) for t in texts])
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    assert enc.training  # encode restores the mode


def test_fingerprint_tracks_weights_and_lengths():
    enc = _tiny(max_length=32)
    base = enc.fingerprint()
    with torch.no_grad():
        enc.model.encoder.layer[0].attention.self.query.weight[0, 0] += 1e-3
    changed = enc.fingerprint()
    assert changed != base
    enc.max_length = 64
    assert enc.fingerprint() != changed


def test_static_init_is_mean_of_minilm_wordpieces(static):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    table = load_file(f"{minilm_path()}/model.safetensors")["embeddings.word_embeddings.weight"]
    tok = AutoTokenizer.from_pretrained(minilm_path())
    texts = [t for t in TEXTS if t]
    expected = torch.stack(
        [table[tok(t, add_special_tokens=False)["input_ids"]].mean(0) for t in texts]
    )
    assert static.dim == 384 and static.embedding.weight.shape == (30522, 384)
    assert torch.allclose(static.encode(texts), F.normalize(expected, dim=-1), atol=1e-6)
    feats = static.tokenize(["hello world"])
    assert tok.cls_token_id not in feats["input_ids"] and tok.sep_token_id not in feats["input_ids"]
    assert static.encode([""]).abs().sum() == 0  # nothing to average


def test_static_special_tokens_truncation_and_random_init():
    with_special = StaticEncoder(drop_special_tokens=False, max_length=4)
    ids = with_special.tokenize(["hello world, how are you"])["input_ids"][0].tolist()
    assert ids[0] == 101 and ids[-1] == 102 and len(ids) == 4  # [CLS] hello world [SEP]
    query = StaticEncoder(max_length=16, query_max_length=3)
    assert query.tokenize(["one two three four five"], 3)["input_ids"].shape == (1, 3)
    rand = StaticEncoder(init_from=None, dim=32, sparse=True)
    assert rand.dim == 32 and rand.describe()["init_from"] is None
    rand(rand.tokenize(["hello there"])).sum().backward()
    assert rand.embedding.weight.grad.is_sparse
    with pytest.raises(ValueError):
        StaticEncoder(init_from=None)
    with pytest.raises(ValueError):
        with_special.save_sentence_transformer("unused")


@pytest.mark.parametrize("normalize", [True, False])
def test_static_save_round_trip(tmp_path, normalize):
    enc = StaticEncoder(max_length=8, normalize=normalize)
    with torch.no_grad():  # a trained table differs from the initial one
        enc.embedding.weight.add_(0.01 * torch.randn_like(enc.embedding.weight))
    long_text = "one two three four five six seven eight nine ten eleven twelve"
    texts = [*TEXTS, long_text]
    enc.save_sentence_transformer(tmp_path)
    theirs = torch.as_tensor(_st(tmp_path).encode(texts))
    assert torch.allclose(enc.encode(texts), theirs, atol=1e-6)


def test_log_labels_say_what_the_encoder_is(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="zelo.models.transformer"):
        random_tiny = TransformerEncoder("minilm", pretrained=False, config_overrides=TINY)
    assert random_tiny.label == "random weights, 2 layers (all-MiniLM-L6-v2's tokenizer and config)"
    assert random_tiny.label in caplog.text and "TransformerEncoder minilm" not in caplog.text
    assert StaticEncoder(init_from=None, dim=8).label == "static embeddings (random)"
