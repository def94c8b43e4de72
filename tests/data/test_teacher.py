from __future__ import annotations

import torch

from zelo.data.teacher import TeacherScores, mined_own_scores
from zelo.mining.base import Miner, ScorerBase
from zelo.mining.scorers.random_scorer import RandomScorer
from zelo.pipeline import build
from zelo.types import MiningInput


def _input(q: int = 5, n: int = 30) -> MiningInput:
    return MiningInput(
        query_texts=[f"query {i}" for i in range(q)],
        doc_texts=[f"doc {d}" for d in range(n)],
        positives=[[0], [1, 11], [2], [3, 13, 23], [4]][:q],
        num_negatives=3,
        seed=7,
    )


class EmbeddingScorer(ScorerBase):
    """A dense-like scorer with fixed embeddings; counts calls to :meth:`column_scorer`."""

    name = "fixed"
    softmax_temperature = 0.05

    def __init__(self, q: int = 5, n: int = 30, d: int = 4) -> None:
        g = torch.Generator().manual_seed(0)
        self.queries, self.docs = torch.randn(q, d, generator=g), torch.randn(n, d, generator=g)
        self.calls = 0

    def column_scorer(self, inp: MiningInput):
        self.calls += 1

        def columns(query_index, cand_ids):
            out = self.queries[query_index] @ self.docs[cand_ids.clamp(min=0)].T
            return out.masked_fill((cand_ids < 0)[None, :], float("nan"))

        return columns

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("qd,qpd->qp", self.queries, self.docs[doc_ids.clamp(min=0)])
        return out.masked_fill(doc_ids < 0, float("nan"))


def _expected(scorer, inp, query_index, cand_ids):
    rows = cand_ids.expand(len(inp.query_texts), -1)
    return scorer.score(inp, rows)[query_index]


def _per_row(scorer, inp, query_index, doc_ids):
    """``scorer.score`` one batch row at a time: ``[B, K]``."""
    out = []
    for q, row in zip(query_index.tolist(), doc_ids, strict=True):
        full = torch.full((len(inp.query_texts), len(row)), -1, dtype=torch.long)
        full[q] = row
        out.append(scorer.score(inp, full)[q])
    return torch.stack(out)


def test_own_candidates_get_the_mined_scores_exactly():
    inp, scorer = _input(), RandomScorer()
    mined = Miner(scorer, depth=12).mine(inp)
    qidx = torch.tensor([3, 1, 3, 0])  # query 3 twice, with two of its positives
    pos = torch.tensor([[13], [11], [23], [0]])
    doc_ids = torch.cat([pos, mined.neg_ids[qidx]], dim=1)  # [B, 1+N], a training batch
    got = TeacherScores(scorer, inp, mined)(qidx, doc_ids)
    col = torch.tensor([1, 1, 2, 0])
    expected = torch.cat([mined.pos_scores[qidx, col][:, None], mined.neg_scores[qidx]], dim=1)
    assert torch.equal(got, expected)
    torch.testing.assert_close(got, _per_row(scorer, inp, qidx, doc_ids), equal_nan=True)
    other = mined_own_scores(mined, inp.positives_padded(), qidx, doc_ids.flip(1))
    assert other is None  # not the [positive, mined negatives] layout


def test_generic_scorer_shared_and_per_row_candidates():
    inp, scorer = _input(), RandomScorer()
    teacher = TeacherScores(scorer, inp)
    qidx = torch.tensor([4, 2, 4])
    cand_ids = torch.tensor([5, -1, 17, 0, 5])
    got = teacher(qidx, cand_ids)  # [B, C]
    torch.testing.assert_close(got, _expected(scorer, inp, qidx, cand_ids), equal_nan=True)
    assert got[:, 1].isnan().all() and not got[:, [0, 2, 3, 4]].isnan().any()
    per_row = torch.tensor([[1, 2, -1], [3, 1, 29], [8, 9, 1]])
    expected = _per_row(scorer, inp, qidx, per_row)
    torch.testing.assert_close(teacher(qidx, per_row), expected, equal_nan=True)


def test_embedding_scorer_is_a_product_of_embeddings_taken_once():
    inp, scorer = _input(), EmbeddingScorer()
    teacher = TeacherScores(scorer, inp)
    qidx, cand_ids = torch.tensor([0, 3]), torch.tensor([2, -1, 29])
    for _ in range(2):
        got = teacher(qidx, cand_ids)
        torch.testing.assert_close(got, _expected(scorer, inp, qidx, cand_ids), equal_nan=True)
    assert scorer.calls == 1
    assert teacher.softmax_temperature == 0.05


def test_the_batch_is_the_teachers_only_channel(make_cfg) -> None:
    from zelo.losses.infonce import ContrastiveLoss

    cfg = make_cfg("miner=random", "loss=infonce_masked")
    built = build(cfg)
    dm = built.datamodule
    mining_pass = dm.mine(0)
    batch = next(iter(dm.train_dataloader()))
    teacher, rows = batch["teacher"], batch["query_index"]
    cols = torch.tensor([0, 3, 5, -1])
    torch.testing.assert_close(
        teacher(cols), mining_pass.teacher(rows, cols), rtol=0, atol=0, equal_nan=True
    )
    assert teacher.softmax_temperature == mining_pass.teacher.softmax_temperature
    torch.testing.assert_close(
        batch["teacher_scores"],
        mining_pass.teacher(rows, batch["doc_ids"]),
        rtol=0,
        atol=0,
        equal_nan=True,
    )
    # nothing reaches the loss from outside the batch
    assert not hasattr(ContrastiveLoss, "bind_teacher")
    assert not any("teacher" in k for k in vars(built.loss))
