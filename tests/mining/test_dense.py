"""DenseScorer's use of the shared search: one searcher and one fingerprint per encoder state."""

from __future__ import annotations

import torch

from zelo.mining.base import Miner
from zelo.mining.scorers import dense
from zelo.mining.scorers.dense import DenseScorer
from zelo.retrieval import searcher
from zelo.types import MiningInput

WORDS = "cat dog bird fish tree rock river sky sun moon star rain wind snow leaf".split()


def _input(student=None, q: int = 9, n: int = 60) -> MiningInput:
    g = torch.Generator().manual_seed(1)

    def text(length: int) -> str:
        return " ".join(WORDS[i] for i in torch.randint(len(WORDS), (length,), generator=g))

    return MiningInput(
        query_texts=[text(3) for _ in range(q)],
        doc_texts=[text(6) for _ in range(n)],
        positives=[list(range(i, i + 1 + i % 3)) for i in range(q)],  # 1 to 3 positives
        num_negatives=3,
        student=student,
    )


def test_chunked_score_equals_one_gather(hash_encoder):
    inp = _input()
    scorer = DenseScorer(hash_encoder())
    ids = torch.randint(-1, 60, (9, 7), generator=torch.Generator().manual_seed(0))
    queries, docs = scorer.embeddings(inp)
    whole = torch.einsum("qd,qpd->qp", queries, docs[ids.clamp(min=0)])  # the [Q, P, D] way
    whole = torch.where(ids >= 0, whole, torch.full_like(whole, float("nan")))
    for chunk in (1, 2, 4, None):
        torch.testing.assert_close(scorer.score(inp, ids, chunk=chunk), whole, equal_nan=True)
    one, auto = scorer.score(inp, ids, chunk=1), scorer.score(inp, ids, chunk=None)
    torch.testing.assert_close(one, auto, rtol=0, atol=0, equal_nan=True)  # bit for bit


def test_one_searcher_and_one_fingerprint_per_encoder_state(hash_encoder, monkeypatch):
    monkeypatch.setattr(searcher, "_registry", type(searcher._registry)())
    student = hash_encoder()
    hashes = []
    original = type(student)._hash_state
    monkeypatch.setattr(
        type(student), "_hash_state", lambda self: hashes.append(1) or original(self)
    )
    builds = searcher.build_counts["flat"]
    miner = Miner(DenseScorer(), depth=20)
    miner.mine(_input(student))
    miner.mine(_input(student))  # same weights: the same index, no new hash
    assert len(hashes) == 1 and searcher.build_counts["flat"] == builds + 1
    with torch.no_grad():
        student.emb.weight[1:] *= -1.0  # an optimizer step would do the same: new state
    miner.mine(_input(student))
    assert len(hashes) == 2 and searcher.build_counts["flat"] == builds + 2


def test_score_chunks_fit_the_budget(hash_encoder, monkeypatch):
    seen = []
    monkeypatch.setattr(dense, "SCORE_CHUNK_ELEMENTS", 2 * 7 * 8)  # two rows of [7, D=8]
    original = torch.bmm
    monkeypatch.setattr(torch, "bmm", lambda a, b: seen.append(a.shape[0]) or original(a, b))
    inp = _input()
    DenseScorer(hash_encoder()).score(inp, torch.zeros(9, 7, dtype=torch.long))
    assert seen == [2, 2, 2, 2, 1]
