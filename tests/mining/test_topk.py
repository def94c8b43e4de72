from __future__ import annotations

import pytest
import torch

from zelo.mining.base import Miner
from zelo.mining.scorers.dense import DenseScorer
from zelo.models.encoders import Encoder
from zelo.types import MiningInput

WORDS = "cat dog bird fish tree rock river sky sun moon star rain wind snow leaf".split()


def _input(student=None, q: int = 6, n: int = 40, num_negatives: int = 4) -> MiningInput:
    g = torch.Generator().manual_seed(0)

    def text(length: int) -> str:
        return " ".join(WORDS[i] for i in torch.randint(len(WORDS), (length,), generator=g))

    return MiningInput(
        query_texts=[text(3) for _ in range(q)],
        doc_texts=[text(6) for _ in range(n)],
        positives=[[i, 2 * i + 1] for i in range(q)],
        num_negatives=num_negatives,
        student=student,
    )


def _brute_force(enc: Encoder, inp: MiningInput) -> list[list[int]]:
    scores = enc.encode(inp.query_texts, is_query=True) @ enc.encode(inp.doc_texts).T
    out = []
    for i, row in enumerate(scores.tolist()):
        order = sorted(range(len(row)), key=lambda d: (-row[d], d))
        out.append([d for d in order if d not in inp.positives[i]][: inp.num_negatives])
    return out


def test_topk_negatives_are_the_best_non_positives(tmp_path, hash_encoder):
    enc = hash_encoder()
    inp = _input()
    out = Miner(DenseScorer(enc, cache_dir=str(tmp_path)), depth=20).mine(inp)
    assert out.neg_ids.tolist() == _brute_force(enc, inp)
    assert (out.neg_scores[:, :-1] >= out.neg_scores[:, 1:]).all()
    assert out.dropped["positive"] == int(
        sum(len(set(p) & set(r)) for p, r in zip(inp.positives, out.ranking.tolist(), strict=True))
    )


def test_dense_score_matches_rank_and_reuses_embeddings(tmp_path, hash_encoder):
    enc = hash_encoder()
    inp = _input()
    scorer = DenseScorer(enc, cache_dir=str(tmp_path))
    ids, scores = scorer.rank(inp, 10)
    assert enc.calls == 2  # corpus + queries
    torch.testing.assert_close(scorer.score(inp, ids), scores, rtol=1e-5, atol=1e-5)
    padded = scorer.score(inp, torch.tensor([[0, -1]] * 6))
    assert torch.isnan(padded[:, 1]).all() and not torch.isnan(padded[:, 0]).any()
    assert enc.calls == 2
    DenseScorer(enc, cache_dir=str(tmp_path)).rank(inp, 10)  # a new scorer hits the disk cache
    assert enc.calls == 2


def test_dense_scorer_follows_the_student(hash_encoder):
    student = hash_encoder()
    inp = _input(student=student)
    miner = Miner(DenseScorer(), depth=20)
    before = miner.mine(inp).neg_ids
    with torch.no_grad():
        student.emb.weight[1:] = torch.randn(64, 8, generator=torch.Generator().manual_seed(5))
    after = miner.mine(inp)
    assert student.calls == 4  # new weights, new embeddings
    assert not torch.equal(before, after.neg_ids)
    assert after.neg_ids.tolist() == _brute_force(student, inp)
    with pytest.raises(ValueError):
        miner.mine(_input(student=None))


def test_topk_name_and_bad_index(hash_encoder):
    assert Miner(DenseScorer(hash_encoder())).name == "dense"
    with pytest.raises(ValueError):
        DenseScorer(index="annoy")
