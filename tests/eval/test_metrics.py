from __future__ import annotations

import math
import random

import pytest
import pytrec_eval
import torch

from zelo.eval.metrics import evaluate_ranking, mrr_at_k, ndcg_at_k, recall_at_k


def test_graded_three_doc_example():
    # judgments: doc 7 grade 2, doc 3 grade 1, doc 9 grade 3; ranking [3, 5, 7, -1]
    # DCG@10  = 1/log2(2) + 0/log2(3) + 2/log2(4) = 1 + 0 + 1 = 2
    # IDCG@10 = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.26186 + 0.5 = 4.76186
    # nDCG@10 = 2 / 4.76186 = 0.42000
    judgments = {7: 2, 3: 1, 9: 3}
    ranked = [3, 5, 7, -1]
    idcg = 3 + 2 / math.log2(3) + 0.5
    assert ndcg_at_k(ranked, judgments) == pytest.approx(2 / idcg)
    # cut at 2: DCG = 1; IDCG = 3 + 2/log2(3)
    assert ndcg_at_k(ranked, judgments, k=2) == pytest.approx(1 / (3 + 2 / math.log2(3)))
    assert recall_at_k(ranked, judgments, k=100) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, judgments, k=1) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, judgments) == 1.0
    assert mrr_at_k([5, 7], judgments) == 0.5 and mrr_at_k([5, 7], judgments, k=1) == 0.0


def test_padding_and_no_relevant():
    assert ndcg_at_k([-1, -1, 4], {4: 1}) == pytest.approx(1.0)  # -1 ids are skipped
    assert ndcg_at_k([1, 2], {}) == 0.0
    assert recall_at_k([1, 2], {}) == 0.0 and mrr_at_k([1, 2], {}) == 0.0
    assert ndcg_at_k([1, 2], {1: 0, 3: 1}) == 0.0  # grade 0 is not relevant


def test_evaluate_ranking_keys_and_values():
    ranking = torch.tensor([[3, 5, 7], [1, -1, -1]])
    out = evaluate_ranking(ranking, [{7: 2, 3: 1, 9: 3}, {2: 1}], ndcg_k=5, recall_k=2, mrr_k=3)
    assert set(out) == {"ndcg@5", "recall@2", "mrr@3", "ndcg@5_binary", "ndcg@5_top"}
    assert out["recall@2"].tolist() == pytest.approx([1 / 3, 0.0])
    assert out["mrr@3"].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError):
        evaluate_ranking(ranking, [{}])


def test_agrees_with_pytrec_eval():
    rng = random.Random(0)
    n_docs, depth = 300, 150
    ranking, judgments = [], []
    for _ in range(25):
        ranking.append(rng.sample(range(n_docs), depth))
        judged = rng.sample(range(n_docs), rng.randint(1, 40))
        judgments.append({d: rng.randint(1, 3) for d in judged})
    ours = {k: v.tolist() for k, v in evaluate_ranking(torch.tensor(ranking), judgments).items()}
    qrels = {str(q): {f"d{d}": g for d, g in j.items()} for q, j in enumerate(judgments)}
    # distinct descending scores fix trec_eval's order; recip_rank has no cut, so truncate to 10
    full = {
        str(q): {f"d{d}": float(depth - i) for i, d in enumerate(r)} for q, r in enumerate(ranking)
    }
    top10 = {q: dict(list(run.items())[:10]) for q, run in full.items()}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(full)
    ref_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    assert any(0 < r < 1 for r in ours["recall@100"]) and any(0 < v < 1 for v in ours["ndcg@10"])
    for q in range(len(ranking)):
        assert ours["ndcg@10"][q] == pytest.approx(ref[str(q)]["ndcg_cut_10"], abs=1e-6)
        assert ours["recall@100"][q] == pytest.approx(ref[str(q)]["recall_100"], abs=1e-6)
        assert ours["mrr@10"][q] == pytest.approx(ref_rr[str(q)]["recip_rank"], abs=1e-6)


def test_graded_views_hand_case() -> None:
    # ranking [5, 3, 9]; judged 3:2, 9:1, 4:2, 7:1 (four judged, cut-off 3)
    out = evaluate_ranking(torch.tensor([[5, 3, 9, -1]]), [{3: 2, 9: 1, 4: 2, 7: 1}], ndcg_k=3)
    d2, d3 = 1 / math.log2(3), 1 / math.log2(4)
    # graded: gains 0, 2, 1 against the ideal 2, 2, 1
    assert out["ndcg@3"].item() == pytest.approx((2 * d2 + d3) / (2 + 2 * d2 + d3))
    # binary: gains 0, 1, 1 against the ideal 1, 1, 1
    assert out["ndcg@3_binary"].item() == pytest.approx((d2 + d3) / (1 + d2 + d3))
    # top grade (2): only doc 3 counts, at rank 2, against the ideal 1, 1
    assert out["ndcg@3_top"].item() == pytest.approx(d2 / (1 + d2))


def test_graded_views_equal_ndcg_on_binary_judgments() -> None:
    ranking = torch.tensor([[1, 2, 3, 4], [4, 0, -1, -1], [0, 1, 2, 3]])
    judgments = [{2: 1, 4: 1}, {0: 1}, {}]
    out = evaluate_ranking(ranking, judgments, ndcg_k=3)
    torch.testing.assert_close(out["ndcg@3_binary"], out["ndcg@3"])
    torch.testing.assert_close(out["ndcg@3_top"], out["ndcg@3"])
    assert out["ndcg@3_top"][2].item() == 0.0  # nothing relevant scores 0
