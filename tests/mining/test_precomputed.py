"""miner=precomputed: reading mined datasets (zelo-mine's four formats, sentence-transformers'
column layouts) back into corpus indices, and training on their negatives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from zelo.errors import ConfigError
from zelo.eval.false_negatives import mining_stats
from zelo.mining.base import Miner
from zelo.mining.scorers.precomputed import (
    PrecomputedScorer,
    QueryLists,
    Row,
    detect_format,
    normalise_row,
    resolve_rows,
)
from zelo.st.formats import FORMATS, MinedView, build_rows
from zelo.types import MiningInput

DOCS = ["D0", "D1", "D2", "D3", "D4", "D5"]
QUERIES = ["Q0", "Q1"]


@pytest.mark.parametrize(
    ("columns", "fmt"),
    [
        (["anchor", "positive", "negative"], "triplet"),
        (["anchor", "positive", "negative", "scores"], "triplet"),
        (["q", "a", "negative_1", "negative_2"], "n-tuple"),
        (["q", "a", "negative_1", "scores"], "n-tuple"),
        (["q", "a", "label"], "labeled-pair"),
        (["q", "a", "score"], "labeled-pair"),
        (["q", "a", "labels"], "labeled-list"),
        (["q", "a", "scores"], "labeled-list"),
        (["q", "a", "negative", "zelo_query_id", "zelo_fn"], "triplet"),
    ],
)
def test_detect_format(columns: list[str], fmt: str) -> None:
    assert detect_format(columns) == fmt


def test_detect_format_refuses_pairs() -> None:
    with pytest.raises(ValueError, match="match no mine_hard_negatives format"):
        detect_format(["anchor", "positive"])


def test_normalise_rows_by_hand() -> None:
    triplet = {"q": "Q0", "a": "D0", "negative": "D2", "scores": [0.9, 0.5]}
    assert normalise_row(triplet, "triplet", "q", "a") == Row("Q0", ["D0"], ["D2"], [0.9], [0.5])
    ntuple = {"q": "Q0", "a": "D0", "negative_2": "D3", "negative_1": "D2", "scores": [9, 8, 7]}
    assert normalise_row(ntuple, "n-tuple", "q", "a") == Row(
        "Q0", ["D0"], ["D2", "D3"], [9.0], [8.0, 7.0]
    )
    zelo_ntuple = {**ntuple, "scores": None, "zelo_positive_score": 0.9}
    zelo_ntuple["zelo_negative_scores"] = [0.5, None]
    assert normalise_row(zelo_ntuple, "n-tuple", "q", "a").neg_scores == [0.5, None]
    assert normalise_row({"q": "Q0", "a": "D2", "label": 0}, "labeled-pair", "q", "a") == Row(
        "Q0", [], ["D2"], [], [None]
    )
    with pytest.raises(ValueError, match="cannot be told apart"):
        normalise_row({"q": "Q0", "a": "D2", "score": 0.3}, "labeled-pair", "q", "a")
    listed = {"q": "Q1", "a": ["D4", "D0", "D1"], "labels": [1, 0, 0]}
    assert normalise_row(listed, "labeled-list", "q", "a") == Row(
        "Q1", ["D4"], ["D0", "D1"], [None], [None, None]
    )
    scored = {"q": "Q1", "a": ["D4", "D0"], "scores": [0.7, 0.75]}  # no labels: first is positive
    assert normalise_row(scored, "labeled-list", "q", "a") == Row(
        "Q1", ["D4"], ["D0"], [0.7], [0.75]
    )


def test_query_lists_rank_by_scores_else_positives_first() -> None:
    ql = QueryLists()
    for doc, score, pos in [(0, 0.5, True), (2, 0.9, False), (3, 0.1, False), (2, 0.8, False)]:
        ql.add(doc, score, pos)
    assert ql.negatives == [2, 3]  # repeats kept once, first score kept
    assert ql.ranking() == ([2, 0, 3], [0.9, 0.5, 0.1])
    unscored = QueryLists()
    for doc, pos in [(5, False), (1, True), (4, False), (1, False)]:
        unscored.add(doc, None, pos)
    assert unscored.negatives == [5, 4]  # a listed positive is never a negative
    assert unscored.ranking() == ([1, 5, 4], [0.0, -1.0, -2.0])


def test_resolve_rows_skips_foreign_anchors_and_names_unknown_texts() -> None:
    rows = [
        Row("Q1", ["D4"], ["D0"], [None], [None]),
        Row("elsewhere", ["D0"], ["D1"], [None], [None]),
        Row("Q1", ["D4"], ["D2"], [None], [None]),
    ]
    lists, counts = resolve_rows(rows, QUERIES, DOCS + ["D0"], "f.jsonl")  # D0 twice: first index
    assert lists[0].positives == [] and lists[1].positives == [4]
    assert lists[1].negatives == [0, 2]
    assert counts == {
        "precomputed_rows": 3,
        "precomputed_rows_skipped": 1,
        "precomputed_queries": 1,
    }
    bad = [*rows, Row("Q0", ["D0"], ["not a document"], [None], [None])]
    with pytest.raises(ConfigError, match="f.jsonl: row 3: negative text not in the corpus"):
        resolve_rows(bad, QUERIES, DOCS, "f.jsonl")
    with pytest.raises(ConfigError, match="none of its 1 rows has a training query"):
        resolve_rows(rows[1:2], QUERIES, DOCS, "f.jsonl")


def _view() -> MinedView:
    """The pass a zelo-mine run would write: q0 positives d0 (score .9) with negatives d2, d3, d1;
    q1 positive d4 with negatives d0, d5, d1 (its third ran short in the file of n-tuples)."""
    return MinedView(
        query_ids=["q0", "q1"],
        query_texts=QUERIES,
        doc_ids=[f"d{i}" for i in range(6)],
        doc_texts=DOCS,
        positives=[[0], [4]],
        pos_scores=[[0.9], [0.7]],
        neg_ids=[[2, 3, 1], [0, 5, 1]],
        neg_scores=[[0.8, 0.6, 0.5], [0.75, 0.72, 0.3]],
        flags={"fn": [[False, True, False], [False, False, False]]},
        columns=("query", "answer"),
    )


def _save(rows: dict, folder: Path, summary: dict | None = None) -> Path:
    import datasets

    datasets.Dataset.from_dict(rows).save_to_disk(str(folder))
    if summary is not None:
        (folder / "zelo_summary.json").write_text(json.dumps(summary))
    return folder


def _input(judgments=None, positives=((0,), (4,)), n: int = 3) -> MiningInput:
    return MiningInput(QUERIES, DOCS, [list(p) for p in positives], n, seed=0, judgments=judgments)


@pytest.mark.parametrize("fmt", FORMATS)
def test_zelo_mine_output_round_trips(tmp_path: Path, fmt: str) -> None:
    folder = _save(build_rows(_view(), fmt), tmp_path / fmt, {"miner/ndcg@10": 0.61})
    scorer = PrecomputedScorer(str(folder))
    assert scorer.format == fmt and scorer.scored
    mined = Miner(scorer, depth=1000).mine(_input())
    assert mined.neg_ids.tolist() == [[2, 3, 1], [0, 5, 1]]  # the file's negatives, its order
    torch.testing.assert_close(mined.neg_scores, torch.tensor([[0.8, 0.6, 0.5], [0.75, 0.72, 0.3]]))
    torch.testing.assert_close(mined.pos_scores, torch.tensor([[0.9], [0.7]]))
    # the partial ranking, by the file's scores: q0 d0 d2 d3 d1; q1 d0 d5 d4 d1
    assert mined.ranking[:, :4].tolist() == [[0, 2, 3, 1], [0, 5, 4, 1]]
    report = scorer.report()
    assert report["source_ndcg@10"] == 0.61 and report["precomputed_scored"] == 1.0


def test_intelligence_and_fn_rate_against_the_judgments(tmp_path: Path) -> None:
    folder = _save(build_rows(_view(), "n-tuple"), tmp_path / "nt")
    judgments = [{0: 1, 3: 1}, {4: 2, 5: 1}]  # d3 (q0) and d5 (q1) are hidden positives
    inp = _input(judgments)
    mined = Miner(PrecomputedScorer(str(folder)), depth=1000).mine(inp)
    stats = mining_stats(mined, judgments, inp.positives)
    assert stats["mining/fn_rate"] == pytest.approx(2 / 6)
    # q0 ranking d0(1) d2(0) d3(1) d1: DCG 1 + 1/log2(4) = 1.5, ideal 1 + 1/log2(3)
    # q1 ranking d0(0) d5(1) d4(2) d1: DCG 1/log2(3) + 2/log2(4), ideal 2 + 1/log2(3)
    # (linear gains, as trec_eval)
    q0 = 1.5 / (1 + 1 / math.log2(3))
    q1 = (1 / math.log2(3) + 1.0) / (2 + 1 / math.log2(3))
    assert stats["miner/ndcg@10"] == pytest.approx((q0 + q1) / 2)
    twin = Miner(PrecomputedScorer(str(folder)), depth=1000, drop_judged=True).mine(inp)
    assert twin.neg_ids.tolist() == [[2, 1, -1], [0, 1, -1]]  # the judged ones removed, no refill


def test_file_positives_are_never_negatives(tmp_path: Path) -> None:
    view = _view()
    view.positives, view.pos_scores = [[0, 3], [4]], [[0.9, 0.85], [0.7]]
    view.neg_ids = [[2, 1, -1], [0, 5, 1]]
    folder = _save(build_rows(view, "triplet"), tmp_path / "t")
    # this run labels only d0 for q0; d3 (a positive of the file) must not become a negative
    mined = Miner(PrecomputedScorer(str(folder)), depth=1000).mine(_input())
    assert 3 not in mined.neg_ids[0].tolist()
    assert mined.dropped["source_positive"] == 1


def test_sentence_transformers_layouts_without_scores(tmp_path: Path) -> None:
    rows = {
        "anchor": ["Q0", "Q0", "Q1"],
        "positive": ["D0", "D0", "D4"],
        "negative": ["D3", "D2", "D5"],
    }
    folder = _save(rows, tmp_path / "st")
    scorer = PrecomputedScorer(str(folder))
    assert not scorer.scored and scorer.format == "triplet"
    mined = Miner(scorer, depth=1000).mine(_input(n=2))
    assert mined.neg_ids.tolist() == [[3, 2], [5, -1]]  # file order; q1 runs short
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"q": "Q1", "docs": ["D4", "D2"], "labels": [1, 0]}) + "\n")
    )
    listed = PrecomputedScorer(str(jsonl))
    assert listed.format == "labeled-list"
    assert Miner(listed, depth=1000).mine(_input(n=1)).neg_ids.tolist() == [[-1], [2]]


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"anchor": "Q0", "positive": "D0"}) + "\n")
    with pytest.raises(ConfigError, match="pairs.jsonl: columns"):
        PrecomputedScorer(str(pairs))
    scored_pairs = tmp_path / "scored.jsonl"
    scored_pairs.write_text(json.dumps({"anchor": "Q0", "doc": "D0", "score": 0.4}) + "\n")
    with pytest.raises(ConfigError, match="scored.jsonl: row 0: .*cannot be told apart"):
        PrecomputedScorer(str(scored_pairs))
    triplets = tmp_path / "triplets.jsonl"
    triplets.write_text(json.dumps({"anchor": "Q0", "positive": "D0", "negative": "D1"}) + "\n")
    with pytest.raises(ConfigError, match="anchor_column='nope'"):
        PrecomputedScorer(str(triplets), anchor_column="nope")


def test_missing_or_unknown_files_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="miner.scorer.path=.*no such folder"):
        PrecomputedScorer(str(tmp_path / "absent.jsonl"))
    (tmp_path / "rows.txt").write_text("x")
    with pytest.raises(ConfigError, match="miner.scorer.path=.*rows.txt"):
        PrecomputedScorer(str(tmp_path / "rows.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a dataset saved with save_to_disk"):
        PrecomputedScorer(str(tmp_path / "empty"))
