"""BEIR loader: a valid folder, one error per kind of malformed input, gzip, the real NFCorpus."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from zelo.data.beir import DataError, load_beir

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "purr softly"},
    {"_id": "d2", "text": "dogs bark"},
    {"_id": "d3", "title": "", "text": ""},
    {"_id": "d4", "title": "Cats", "text": "purr softly", "metadata": {"url": "x"}},
]
QUERIES = [{"_id": "q1", "text": "cats"}, {"_id": "q2", "text": "dogs"}]
TEST_QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td4\t1\nq2\td2\t1\nq2\td3\t0\n"
TRAIN_QRELS = "q2\td2\t1\n"


def jsonl(records: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_beir(root: Path, files: dict[str, str] | None = None, gz: tuple[str, ...] = ()) -> Path:
    """A valid BEIR folder under ``root``; ``files`` replaces files by relative path."""
    contents = {
        "corpus.jsonl": jsonl(CORPUS),
        "queries.jsonl": jsonl(QUERIES),
        "qrels/test.tsv": TEST_QRELS,
        "qrels/train.tsv": TRAIN_QRELS,
        **(files or {}),
    }
    for rel, text in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel in gz:
            with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            path.write_text(text, encoding="utf-8")
    return root


def test_valid_folder(tmp_path: Path) -> None:
    c = load_beir(write_beir(tmp_path / "toy"))
    assert c.name == "toy"
    assert c.doc_ids == ["d1", "d2", "d3", "d4"]
    assert c.doc_texts == ["Cats purr softly", "dogs bark", "", "Cats purr softly"]
    assert c.query_texts == ["cats", "dogs"]
    assert c.qrels == {
        "test": {"q1": {"d1": 2, "d4": 1}, "q2": {"d2": 1}},
        "train": {"q2": {"d2": 1}},
    }
    assert c.info["qrels_rows"] == {"test": 4, "train": 1}
    assert c.info["qrels_dropped"] == {"test": 1, "train": 0}
    assert c.info["judged_queries"] == {"test": 2, "train": 1}
    assert c.info["empty_docs"] == {"count": 1, "ids": ["d3"]}
    assert c.info["duplicate_doc_groups"] == [["d1", "d4"]]
    assert c.info["duplicate_doc_count"] == 2
    assert c.info["empty_queries"] == {"count": 0, "ids": []}
    json.dumps(c.info)  # JSON-serialisable


def test_empty_queries_are_kept_with_a_warning_naming_them(tmp_path: Path, caplog) -> None:
    queries = [*QUERIES, {"_id": "q3", "text": ""}, {"_id": "q4", "text": "  "}]
    folder = write_beir(tmp_path / "toy", {"queries.jsonl": jsonl(queries)})
    c = load_beir(folder)
    assert c.query_ids == ["q1", "q2", "q3", "q4"]  # kept, as empty documents are
    assert c.info["empty_queries"] == {"count": 2, "ids": ["q3", "q4"]}
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        f"{folder / 'queries.jsonl'}: 2 queries with empty text" in w and "q3, q4" in w
        for w in warning
    )


BAD_CORPUS_JSON = '{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": \n'


@pytest.mark.parametrize(
    ("rel", "text", "line", "words"),
    [
        ("corpus.jsonl", BAD_CORPUS_JSON, 2, "invalid JSON"),
        ("queries.jsonl", '["q1", "cats"]\n', 1, "JSON object"),
        ("corpus.jsonl", jsonl([CORPUS[0], {"_id": "d2", "title": "t"}]), 2, "'text'"),
        ("queries.jsonl", jsonl([{"text": "cats"}]), 1, "'_id'"),
        ("corpus.jsonl", jsonl([*CORPUS[:2], CORPUS[0]]), 3, "duplicate id 'd1'"),
        ("queries.jsonl", jsonl([*QUERIES, QUERIES[1]]), 3, "duplicate id 'q2'"),
        ("qrels/test.tsv", "q1\td1\t1\nq9\td1\t1\n", 2, "unknown query id 'q9'"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td9\t1\n", 2, "unknown document id"),
        ("qrels/test.tsv", "q1\td1\t1\nq1\td2\tx\n", 2, "not an integer"),
        # headerless, first row broken: its ids are real, so it is no header
        ("qrels/test.tsv", "q1\td1\t2x\nq1\td2\t1\n", 1, "score '2x' is not an integer"),
        ("qrels/train.tsv", "q1\td1\t1\nq1\td2\n", 2, "3 tab-separated columns, got 2"),
    ],
)
def test_malformed_input_names_file_and_line(
    tmp_path: Path, rel: str, text: str, line: int, words: str
) -> None:
    folder = write_beir(tmp_path / "toy", {rel: text})
    with pytest.raises(DataError) as err:
        load_beir(folder)
    msg = str(err.value)
    assert f"{folder / rel}, line {line}:" in msg
    assert words in msg


GZ = ("corpus.jsonl", "qrels/test.tsv")


def test_gzip_is_read_and_plain_file_wins(tmp_path: Path) -> None:
    plain = load_beir(write_beir(tmp_path / "plain"))
    gz = load_beir(write_beir(tmp_path / "gz", gz=GZ))
    assert (gz.doc_texts, gz.qrels) == (plain.doc_texts, plain.qrels)
    both = write_beir(tmp_path / "both")
    write_beir(both, {"corpus.jsonl": "not json\n", "qrels/test.tsv": "x\n"}, gz=GZ)
    assert load_beir(both).doc_texts == plain.doc_texts


def test_missing_folder_says_how_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_beir(tmp_path / "nfcorpus")
    msg = str(err.value)
    assert str(tmp_path / "nfcorpus") in msg
    assert "ZELO_DATA_DIR" in msg and "paths.data_dir" in msg
    assert "python -m zelo.data.download nfcorpus" in msg


def test_missing_corpus_file(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "toy")
    (folder / "corpus.jsonl").unlink()
    with pytest.raises(DataError, match="no corpus.jsonl"):
        load_beir(folder)


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return Path(os.environ.get("ZELO_DATA_DIR") or default)


def test_real_nfcorpus() -> None:
    folder = data_dir() / "nfcorpus"
    if not folder.is_dir():
        pytest.fail(f"NFCorpus not found at {folder}: set ZELO_DATA_DIR to the BEIR collections")
    c = load_beir(folder)
    assert (len(c.doc_ids), len(c.query_ids)) == (3633, 3237)
    assert c.info["qrels_rows"] == {"dev": 11385, "test": 12334, "train": 110575}
    assert c.info["judged_queries"] == {"dev": 324, "test": 323, "train": 2590}
    assert len(c.info["duplicate_doc_groups"]) == 40
    assert ["MED-118", "MED-2651"] in c.info["duplicate_doc_groups"]
    assert {g for q in c.qrels["test"].values() for g in q.values()} == {1, 2}
    assert {g for q in c.qrels["train"].values() for g in q.values()} == {1}


def test_corrupt_gzip_names_file_and_line(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "toy", gz=("corpus.jsonl",))
    gz_path = folder / "corpus.jsonl.gz"
    data = gz_path.read_bytes()
    gz_path.write_bytes(data[: len(data) - 12])  # truncated: no end-of-stream trailer
    with pytest.raises(DataError) as err:
        load_beir(folder)
    assert f"{gz_path}, line " in str(err.value)
    assert "corrupt or truncated gzip" in str(err.value)
    gz_path.write_bytes(b"this is not gzip at all\n")
    with pytest.raises(DataError, match=r"corpus.jsonl.gz, line 1: corrupt or truncated gzip"):
        load_beir(folder)


def test_non_utf8_input_names_file_line_and_byte(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "toy")
    bad = b'{"_id": "q3", "text": "caf\xe9"}\n'  # latin-1, not UTF-8
    (folder / "queries.jsonl").write_bytes(jsonl(QUERIES).encode() + bad)
    with pytest.raises(DataError) as err:
        load_beir(folder)
    msg = str(err.value)
    column = bad.index(b"\xe9") + 1  # 27
    assert msg.startswith(
        f"{folder / 'queries.jsonl'}, line 3: not UTF-8 (byte 0xe9 at column {column})"
    )
    assert len(msg) < 250  # no dump of the file's text


def test_bom_on_the_first_line_is_accepted(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "toy")
    (folder / "queries.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl(QUERIES).encode())
    assert load_beir(folder).query_texts == ["cats", "dogs"]


def test_empty_corpus_says_so(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "toy", {"corpus.jsonl": "\n"})
    with pytest.raises(DataError, match=r"corpus.jsonl: no documents \(the file is empty\)"):
        load_beir(folder)


def test_explicit_path_names_its_key_and_no_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_beir(tmp_path / "mine", name="beir", path_key="dataset.path")
    msg = str(err.value)
    assert str(tmp_path / "mine") in msg and "dataset.path" in msg
    assert "download" not in msg and "ZELO_DATA_DIR" not in msg
