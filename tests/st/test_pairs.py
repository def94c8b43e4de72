"""(anchor, positive) pairs as a collection, as sentence-transformers' mine_hard_negatives reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zelo.data.beir import DataError
from zelo.st.pairs import load_pairs


def test_pairs_become_queries_documents_and_qrels(pairs_dir: Path) -> None:
    c = load_pairs(str(pairs_dir / "pairs"), corpus=str(pairs_dir / "corpus"))
    assert c.query_texts == ["heat flow", "star light", "rock layers", "sea salt"]
    # the corpus first, then the positives, de-duplicated by text ("stellar spectra" once)
    assert c.doc_texts == [
        "volcanic rock", "heat of stars", "ocean currents", "stellar spectra",
        "conduction of heat", "convection currents", "sediment strata", "ocean salinity",
    ]  # fmt: skip
    assert c.qrels["train"]["q0"] == {"d4": 1, "d5": 1}  # a repeated anchor: two positives
    assert c.qrels["train"]["q1"] == {"d3": 1}
    assert c.info["columns"] == ["query", "answer"] and c.info["pairs"] == 5


def test_named_columns_and_a_jsonl_file(tmp_path: Path) -> None:
    rows = [{"pos": "b", "anc": "a"}, {"pos": "d", "anc": "c"}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    c = load_pairs(str(path), anchor_column="anc", positive_column="pos")
    assert c.query_texts == ["a", "c"] and c.doc_texts == ["b", "d"]
    assert c.info["columns"] == ["anc", "pos"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"anchor_column": "question"}, "no column 'question' \\(dataset.anchor_column\\)"),
        ({"positive_column": "id"}, "column 'id' \\(dataset.positive_column\\) holds"),
    ],
)
def test_bad_columns_name_the_key(pairs_dir: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_pairs(str(pairs_dir / "pairs"), **kwargs)


def test_missing_dataset_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"no dataset at {tmp_path}/nowhere"):
        load_pairs(str(tmp_path / "nowhere"))
