"""SentenceTransformer folders in and out: as the student (``model=st``) and as a dense scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zelo import pipeline
from zelo.errors import ConfigError
from zelo.models.static import StaticEncoder
from zelo.st.models import SentenceTransformerEncoder, st_scorer
from zelo.types import MiningInput

TEXTS = ["heat flows from hot to cold", "stars shine by fusion", "salt in the sea", "a"]


def st_encode(folder: str | Path, texts: list[str]) -> torch.Tensor:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return torch.from_numpy(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))


def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a, b, dim=1).min().item()


def test_encoder_matches_sentence_transformers(tiny_st: Path) -> None:
    enc = SentenceTransformerEncoder(str(tiny_st))
    ours = enc.encode(TEXTS)
    assert ours.shape == (4, 64) and torch.allclose(ours.norm(dim=1), torch.ones(4), atol=1e-5)
    assert min_cosine(ours, st_encode(tiny_st, TEXTS)) >= 0.9999
    assert enc.tokenize(TEXTS, max_length=4)["input_ids"].shape[1] == 4  # queries' own limit


def test_a_zelo_static_export_loads_as_an_st_student(tmp_path: Path) -> None:
    torch.manual_seed(0)
    static = StaticEncoder(init_from=None, dim=16, max_length=32)
    static.save_sentence_transformer(tmp_path / "static")
    enc = SentenceTransformerEncoder(str(tmp_path / "static"))
    assert min_cosine(enc.encode(TEXTS[:3]), static.encode(TEXTS[:3])) >= 0.9999


def test_st_scorer_ranks_like_sentence_transformers(tiny_st: Path) -> None:
    docs = TEXTS * 3 + ["fusion in stars", "ocean salinity", "thermal conduction"]
    queries = ["why do stars shine", "how salty is the ocean"]
    inp = MiningInput(queries, docs, [[0], [1]], num_negatives=2)
    ids, scores = st_scorer(str(tiny_st), device="cpu").rank(inp, depth=5)
    q, d = st_encode(tiny_st, queries), st_encode(tiny_st, docs)
    expected = (q @ d.T).numpy()  # [2, 15] cosines
    for row, row_scores, ref in zip(ids.tolist(), scores.numpy(), expected, strict=True):
        np.testing.assert_allclose(row_scores, np.sort(ref)[::-1][:5], atol=1e-5)
        np.testing.assert_allclose(ref[row], row_scores, atol=1e-5)


def test_round_trip_st_in_trained_st_out(make_cfg, tiny_st: Path, tmp_path: Path, monkeypatch):
    saved = {}

    def keep(encoder, path: Path) -> None:
        saved["encoder"] = encoder
        save_student(encoder, path)

    save_student = pipeline.save_student
    monkeypatch.setattr(pipeline, "save_student", keep)
    cfg = make_cfg("model=st", f"model.path={tiny_st}", "model.lr=1e-3", "miner=random",
                   "trainer.max_epochs=1", "data.max_eval_queries=4")  # fmt: skip
    metrics = pipeline.train(cfg)
    assert metrics["run/model"] == "st" and metrics["trainer/global_step"] > 0
    student = tmp_path / "student"
    theirs = st_encode(student, TEXTS)
    assert min_cosine(saved["encoder"].encode(TEXTS), theirs) >= 0.9999  # saved what trained
    assert (st_encode(tiny_st, TEXTS) - theirs).abs().max() > 1e-3  # and it did train


def prompted_copy(tiny_st: Path, folder: Path, prompts: dict, default: str | None = None) -> Path:
    """``tiny_st`` saved again with ``prompts`` (and ``default_prompt_name``) in its config."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_st), device="cpu")
    model.prompts, model.default_prompt_name = prompts, default
    model.save(str(folder), create_model_card=False)
    return folder


def st_sides(folder: Path, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """What sentence-transformers' encode_query and encode_document give (unit vectors)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    q = model.encode_query(texts, normalize_embeddings=True, convert_to_tensor=True)
    d = model.encode_document(texts, normalize_embeddings=True, convert_to_tensor=True)
    return q.cpu(), d.cpu()


def test_queries_and_documents_get_the_models_prompts(tiny_st: Path, tmp_path: Path) -> None:
    folder = prompted_copy(tiny_st, tmp_path / "e5", {"query": "query: ", "document": "passage: "})
    enc = SentenceTransformerEncoder(str(folder))
    q, d = enc.encode(TEXTS, is_query=True), enc.encode(TEXTS)
    st_q, st_d = st_sides(folder, TEXTS)
    assert min_cosine(q, st_q) >= 0.9999 and min_cosine(d, st_d) >= 0.9999
    assert (q - d).abs().max() > 1e-3  # the same text differs as a query and as a document
    plain = st_encode(tiny_st, TEXTS)
    assert (q - plain).abs().max() > 1e-3 and (d - plain).abs().max() > 1e-3
    # the options override the model's own prompts
    bare = SentenceTransformerEncoder(str(folder), query_prompt="", document_prompt="")
    assert min_cosine(bare.encode(TEXTS, is_query=True), plain) >= 0.9999


def test_a_pooling_that_leaves_the_prompt_out_and_named_prompts(tiny_st, tmp_path) -> None:
    from sentence_transformers import SentenceTransformer

    prompts = {"query": "query: ", "document": "passage: ", "classify": "classify this: "}
    folder = prompted_copy(tiny_st, tmp_path / "m", prompts)
    model = SentenceTransformer(str(folder), device="cpu")
    model[1].include_prompt = False  # the prompt's tokens are not pooled
    model.save(str(folder), create_model_card=False)
    enc = SentenceTransformerEncoder(str(folder))
    st_q, st_d = st_sides(folder, TEXTS)
    assert min_cosine(enc.encode(TEXTS, is_query=True), st_q) >= 0.9999
    assert min_cosine(enc.encode(TEXTS), st_d) >= 0.9999
    named = SentenceTransformerEncoder(str(folder), query_prompt_name="classify")
    assert named.prompts == {"query": "classify this: ", "document": "passage: "}
    with pytest.raises(ConfigError, match="query_prompt_name=search: the model's prompts"):
        SentenceTransformerEncoder(str(folder), query_prompt_name="search")


def test_a_default_prompt_name_is_used_as_encode_query_uses_it(tiny_st, tmp_path) -> None:
    folder = prompted_copy(tiny_st, tmp_path / "d", {"classify": "classify this: "}, "classify")
    enc = SentenceTransformerEncoder(str(folder))
    st_q, st_d = st_sides(folder, TEXTS)
    assert min_cosine(enc.encode(TEXTS, is_query=True), st_q) >= 0.9999
    assert min_cosine(enc.encode(TEXTS), st_d) >= 0.9999


def test_a_prompted_scorer_mines_and_a_prompted_student_trains_with_prompts(
    tiny_st: Path, tmp_path: Path
) -> None:
    from zelo.data.batches import TrainCollator
    from zelo.types import QuerySet

    folder = prompted_copy(tiny_st, tmp_path / "e5", {"query": "query: ", "document": "passage: "})
    docs = TEXTS * 3 + ["fusion in stars", "ocean salinity", "thermal conduction"]
    queries = ["why do stars shine", "how salty is the ocean"]
    inp = MiningInput(queries, docs, [[0], [1]], num_negatives=2)
    ids, scores = st_scorer(str(folder), device="cpu").rank(inp, depth=5)
    st_q, _ = st_sides(folder, queries)
    _, st_d = st_sides(folder, docs)
    expected = (st_q @ st_d.T).numpy()
    for row, row_scores, ref in zip(ids.tolist(), scores.numpy(), expected, strict=True):
        np.testing.assert_allclose(ref[row], row_scores, atol=1e-5)
    enc = SentenceTransformerEncoder(str(folder))
    qs = QuerySet(["q0", "q1"], queries, [{0: 1}, {1: 1}], [[0], [1]], [{}, {}])
    batch = TrainCollator(enc, qs, docs)([{"query": 0, "doc_ids": [0, 5]}])
    tok = enc.model.tokenizer
    assert tok.decode(batch["query"]["input_ids"][0], skip_special_tokens=True).startswith(
        "query :"
    )
    assert tok.decode(batch["docs"]["input_ids"][0], skip_special_tokens=True).startswith(
        "passage :"
    )
