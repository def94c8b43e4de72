from __future__ import annotations

import math

import torch

from zelo.mining.base import Miner
from zelo.mining.scorers import bm25 as bm25_module
from zelo.mining.scorers.bm25 import BM25Scorer
from zelo.types import MiningInput

DOCS = [
    "solar panels convert sunlight",
    "wind turbines and solar farms make solar power",
    "the history of tea",
    "tea and coffee",
]


def _input(queries: list[str], positives: list[list[int]] | None = None) -> MiningInput:
    return MiningInput(
        query_texts=queries,
        doc_texts=DOCS,
        positives=positives or [[] for _ in queries],
        num_negatives=2,
    )


def _lucene(tf: int, df: int, dl: int, avgdl: float, n: int, k1=1.5, b=0.75) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))


def test_scores_match_the_lucene_formula_by_hand():
    # token lengths after stop words: [4, 7, 2, 2] ("the", "of", "and" removed) -> avgdl 3.75
    out = BM25Scorer().score(_input(["solar"]), torch.tensor([[0, 1, 2]]))
    expected = [_lucene(1, 2, 4, 3.75, 4), _lucene(2, 2, 7, 3.75, 4), 0.0]
    torch.testing.assert_close(out[0], torch.tensor(expected), rtol=1e-5, atol=1e-6)


def test_rank_orders_by_score_ties_by_doc_index_and_pads():
    inp = _input(["solar power", "tea", "zebra"])
    ids, scores = BM25Scorer().rank(inp, 6)
    assert ids[0, :2].tolist() == [1, 0]
    assert set(ids[1, :2].tolist()) == {2, 3}
    assert ids[2, :4].tolist() == [0, 1, 2, 3] and (scores[2, :4] == 0).all()  # no known word
    assert (ids[:, 4:] == -1).all() and torch.isinf(scores[:, 4:]).all()
    torch.testing.assert_close(BM25Scorer().score(inp, ids[:, :4]), scores[:, :4])


def test_score_is_nan_padded_and_stop_word_queries_score_zero():
    out = BM25Scorer().score(_input(["the of", "tea"]), torch.tensor([[0, -1], [-1, 3]]))
    assert out[0, 0] == 0 and torch.isnan(out[0, 1]) and torch.isnan(out[1, 0])
    assert out[1, 1] > 0


def test_index_is_built_once_per_corpus_and_parameters():
    scorer = BM25Scorer()
    assert scorer.retriever(DOCS) is BM25Scorer().retriever(list(DOCS))
    assert BM25Scorer(k1=1.2).retriever(DOCS) is not scorer.retriever(DOCS)
    assert len(bm25_module._INDEXES) <= bm25_module.INDEX_MEMO_SIZE


def test_topk_over_bm25_skips_labelled_positives():
    out = Miner(BM25Scorer(), depth=4).mine(_input(["solar tea"], positives=[[2]]))
    assert out.ranking[0, 0] == 2 and out.dropped["positive"] == 1  # shortest "tea" doc first
    assert out.neg_ids[0].tolist() == [3, 1]
