"""Split resolution and the annotation view, on hand-built collections."""

from __future__ import annotations

import pytest

from zelo.data.beir import DataError
from zelo.data.splits import build_query_set, resolve_splits
from zelo.types import Collection, Qrels


def make_collection(qrels: dict[str, Qrels], num_docs: int = 5) -> Collection:
    qids = sorted({q for split in qrels.values() for q in split})
    return Collection(
        name="toy",
        doc_ids=[f"d{i}" for i in range(num_docs)],
        doc_texts=[f"text {i}" for i in range(num_docs)],
        query_ids=qids,
        query_texts=[f"query {q}" for q in qids],
        qrels=qrels,
    )


GRADED = {"q1": {"d0": 2, "d1": 2, "d2": 1}, "q0": {"d3": 1}}
GRADED_INDEX = {0: 2, 1: 2, 2: 1}  # q1's judgments by doc index


def test_keep_all_positives() -> None:
    qs = build_query_set(make_collection({"test": GRADED}), GRADED)
    assert qs.query_ids == ["q0", "q1"]
    assert qs.query_texts == ["query q0", "query q1"]
    assert qs.judgments == [{3: 1}, {0: 2, 1: 2, 2: 1}]
    assert qs.positives == [[3], [0, 1, 2]]
    assert qs.hidden == [{}, {}]


def test_keep_one_best_positive_hides_the_rest() -> None:
    picked = set()
    for seed in range(20):
        qs = build_query_set(
            make_collection({"train": GRADED}), GRADED, keep_positives=1, seed=seed
        )
        assert qs.positives[0] == [3]
        (kept,) = qs.positives[1]
        assert kept in (0, 1)  # a grade-2 document
        assert qs.hidden[1] == {d: g for d, g in GRADED_INDEX.items() if d != kept}
        assert qs.judgments[1] == GRADED_INDEX
        picked.add(kept)
    assert picked == {0, 1}  # ties between equal grades are broken at random


def test_random_strategy_can_keep_a_lower_grade_and_is_seeded() -> None:
    c = make_collection({"train": GRADED})
    runs = [build_query_set(c, GRADED, 1, "random", seed).positives[1][0] for seed in range(30)]
    assert set(runs) == {0, 1, 2}
    again = [build_query_set(c, GRADED, 1, "random", seed).positives[1][0] for seed in range(30)]
    assert runs == again


def test_keep_two_is_best_first_and_min_grade() -> None:
    c = make_collection({"train": GRADED})
    qs = build_query_set(c, GRADED, keep_positives=2)
    assert qs.positives[1] == [0, 1] and qs.hidden[1] == {2: 1}
    strict = build_query_set(c, GRADED, min_grade=2)
    assert strict.positives == [[], [0, 1]]
    assert strict.hidden == [{3: 1}, {2: 1}]


def test_bad_arguments() -> None:
    c = make_collection({"train": GRADED})
    with pytest.raises(ValueError, match="strategy"):
        build_query_set(c, GRADED, 1, strategy="worst")
    with pytest.raises(ValueError, match="keep_positives"):
        build_query_set(c, GRADED, keep_positives=0)


def many(prefix: str, n: int) -> Qrels:
    return {f"{prefix}{i:02d}": {"d0": 1} for i in range(n)}


def test_named_splits_pass_through() -> None:
    c = make_collection({"train": many("a", 5), "dev": many("b", 2), "test": many("c", 3)})
    out = resolve_splits(c)
    assert out == {"train": c.qrels["train"], "dev": c.qrels["dev"], "test": c.qrels["test"]}
    assert c.info["splits"]["seeded"] is False
    assert c.info["splits"]["dev"] == {"from": "dev", "queries": 2}


def test_dev_carved_from_train_is_seeded_and_disjoint() -> None:
    c = make_collection({"train": many("a", 20), "test": many("c", 3)})
    out = resolve_splits(c, dev=None, seed=1)
    assert len(out["dev"]) == 4 and len(out["train"]) == 16
    assert out["dev"].keys() | out["train"].keys() == c.qrels["train"].keys()
    assert not out["dev"].keys() & out["train"].keys()
    assert resolve_splits(c, dev=None, seed=1) == out
    assert resolve_splits(c, dev=None, seed=2)["dev"] != out["dev"]
    assert c.info["splits"]["seeded"] is True and c.info["splits"]["seed"] == 2


def test_test_only_collection_gets_three_splits() -> None:
    c = make_collection({"test": many("c", 30)})
    out = resolve_splits(c, train=None, dev=None, seed=0)
    assert {k: len(v) for k, v in out.items()} == {"train": 15, "dev": 6, "test": 9}
    keys = [set(out[s]) for s in ("train", "dev", "test")]
    assert set.union(*keys) == set(c.qrels["test"])
    assert sum(map(len, keys)) == 30
    assert c.info["splits"]["train"]["queries"] == 15


def test_unknown_split_lists_present_ones() -> None:
    c = make_collection({"train": many("a", 5), "test": many("c", 3)})
    with pytest.raises(DataError, match=r"'validation'.*\['test', 'train'\]"):
        resolve_splits(c, dev="validation")


def test_draw_missing_treats_absent_named_splits_as_drawn() -> None:
    c = make_collection({"test": many("c", 30)})
    drawn = resolve_splits(c, train="train", dev=None, seed=0, draw_missing=True)
    expected = resolve_splits(make_collection({"test": many("c", 30)}), train=None, dev=None)
    assert drawn == expected  # the same seeded split as train=None
    assert c.info["splits"]["seeded"] is True
    with pytest.raises(DataError, match="'train'"):
        resolve_splits(c, train="train", dev=None)  # without it: still an error
