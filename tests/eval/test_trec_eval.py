"""zelo's nDCG@10, Recall@100 and MRR@10 equal trec_eval's (``pytrec_eval``) per query.

Real runs on real test qrels, top-100 per query: BM25 (``BM25Scorer.rank``) and the static
student (``StaticEncoder`` + ``search``), on graded (NFCorpus 1-2, Cranfield 1-4) and binary
(SciFact) judgments.

Ties: trec_eval ignores the order of the run it is given and ranks by score descending, then by
document id descending (``strcmp``); zelo ranks ties by lower document index. Ties do occur
(BM25 scores of documents sharing the query terms, duplicate documents under the static student),
so zelo's metrics are computed on the run re-sorted the trec_eval way: both sides then score the
same ranked list built from the same scores. MRR@10 is trec_eval's ``recip_rank`` on the run cut
to its first 10 documents in that order.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import pytest
import torch

from zelo.data.beir import load_beir
from zelo.eval.metrics import evaluate_ranking
from zelo.types import Collection

pytrec_eval = pytest.importorskip("pytrec_eval")

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
DEPTH = 100
TOL = 1e-6
COLLECTIONS = ("nfcorpus", "cranfield", "scifact")  # graded, graded, binary


@functools.cache
def collection(name: str) -> Collection:
    if not (DATA_DIR / name).is_dir():
        pytest.fail(f"no {name} under {DATA_DIR}: set ZELO_DATA_DIR to the BEIR collections")
    return load_beir(DATA_DIR / name)


def bm25_run(c: Collection, qids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    from zelo.mining.scorers.bm25 import BM25Scorer
    from zelo.types import MiningInput

    texts = [c.query_texts[c.query_index[q]] for q in qids]
    inp = MiningInput(texts, c.doc_texts, positives=[[] for _ in qids], num_negatives=0)
    ids, scores = BM25Scorer().rank(inp, DEPTH)
    return scores, ids


def static_run(c: Collection, qids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    from zelo.models.static import StaticEncoder
    from zelo.retrieval import build_searcher

    encoder = StaticEncoder()
    docs = encoder.encode(c.doc_texts, batch_size=512)
    queries = encoder.encode([c.query_texts[c.query_index[q]] for q in qids], is_query=True)
    return build_searcher(docs).search(queries, DEPTH)


RUNS = {"bm25": bm25_run, "static": static_run}


def trec_order(doc_ids: list[str], scores: list[float]) -> list[tuple[str, float]]:
    """trec_eval's ranking of a run: score descending, then document id descending."""
    by_id = sorted(zip(doc_ids, scores, strict=True), key=lambda p: p[0], reverse=True)
    return sorted(by_id, key=lambda p: -p[1])  # stable: equal scores keep id-descending order


def compare(name: str, run_name: str) -> dict[str, float]:
    """Max |zelo - trec_eval| per measure over the test queries (plus the count of tied runs)."""
    c = collection(name)
    qrels = c.qrels["test"]
    qids = sorted(qrels)
    scores, ids = RUNS[run_name](c, qids)
    run, ranking, tied = {}, [], 0
    for qid, row_ids, row_scores in zip(qids, ids.tolist(), scores.tolist(), strict=True):
        kept = [(c.doc_ids[d], s) for d, s in zip(row_ids, row_scores, strict=True) if d >= 0]
        ordered = trec_order([d for d, _ in kept], [s for _, s in kept])
        tied += len({s for _, s in kept}) < len(kept)
        run[qid] = dict(ordered)
        ranking.append([c.doc_index[d] for d, _ in ordered])
    judgments = [{c.doc_index[d]: g for d, g in qrels[q].items()} for q in qids]
    ours = {k: v.tolist() for k, v in evaluate_ranking(torch.tensor(ranking), judgments).items()}
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    top10 = {q: dict(list(docs.items())[:10]) for q, docs in run.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    assert set(full) == set(mrr) == set(qids)
    pairs = {
        "ndcg@10": [full[q]["ndcg_cut_10"] for q in qids],
        "recall@100": [full[q]["recall_100"] for q in qids],
        "mrr@10": [mrr[q]["recip_rank"] for q in qids],
    }
    diffs = {k: max(abs(a - b) for a, b in zip(ours[k], v, strict=True)) for k, v in pairs.items()}
    means = {f"mean_{k}": sum(v) / len(v) for k, v in pairs.items()}
    return {**diffs, **means, "tied_queries": tied, "queries": len(qids)}


# BM25 everywhere; the static student where it adds ties of its own (NFCorpus's duplicates) and
# on graded Cranfield (SciFact's 5k long abstracts would double the file's run time)
CASES = [(name, "bm25") for name in COLLECTIONS] + [("nfcorpus", "static"), ("cranfield", "static")]


@pytest.mark.parametrize(("name", "run_name"), CASES)
def test_metrics_equal_trec_eval_per_query(name: str, run_name: str) -> None:
    result = compare(name, run_name)
    for key in ("ndcg@10", "recall@100", "mrr@10"):
        assert result[key] <= TOL, (key, result)
    for key in ("mean_ndcg@10", "mean_recall@100", "mean_mrr@10"):
        assert 0.0 < result[key] <= 1.0 and math.isfinite(result[key]), result


def test_trec_order_breaks_ties_by_descending_id() -> None:
    assert trec_order(["a", "c", "b", "d"], [1.0, 2.0, 2.0, 0.5]) == [
        ("c", 2.0),
        ("b", 2.0),
        ("a", 1.0),
        ("d", 0.5),
    ]
