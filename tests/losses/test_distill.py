from __future__ import annotations

import math

import pytest
import torch
from loss_helpers import batch, call

from zelo.losses.distill import DistillLoss, distill_kl
from zelo.losses.infonce import InfoNCELoss

NAN = float("nan")


def _loop_kl(q, docs, doc_ids, pos_sets, teacher, scale, teacher_t):
    """Plain loop: KL(p_T || p_S) over each query's valid own candidates, mean over queries."""
    total = 0.0
    for i in range(q.shape[0]):
        positives = {int(p) for p in pos_sets[i] if p >= 0}
        cols = [
            s
            for s in range(docs.shape[1])
            if doc_ids[i, s] >= 0 and (s == 0 or int(doc_ids[i, s]) not in positives)
        ]
        zs = [math.exp(scale * float(q[i] @ docs[i, s])) for s in cols]
        zt = [math.exp(float(teacher[i, s]) / teacher_t) for s in cols]
        ps = [z / sum(zs) for z in zs]
        pt = [z / sum(zt) for z in zt]
        total += sum(a * math.log(a / b) for a, b in zip(pt, ps, strict=True))
    return total / q.shape[0]


def test_distill_kl_hand_computed():
    student = torch.tensor([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    teacher = torch.tensor([[math.log(3.0), 0.0, NAN], [0.0, 0.0, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    # row 0: p_T = (3/4, 1/4), p_S = (1/2, 1/2); row 1 has no valid column and does not count
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert distill_kl(student, teacher, mask).item() == pytest.approx(expected, abs=1e-12)
    assert distill_kl(student, student, torch.ones_like(mask)).item() == pytest.approx(0.0)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_loss_equals_loop_reference(alpha: float):
    q, docs, doc_ids, pos_sets, teacher = batch(teacher=True)
    loss_fn = DistillLoss(temperature=0.1, teacher_temperature=0.2, alpha=alpha)
    loss, stats = loss_fn(q, docs, doc_ids, pos_sets, teacher_scores=teacher)
    kl = _loop_kl(q, docs, doc_ids, pos_sets, teacher, 10.0, 0.2)
    nce, _ = InfoNCELoss(temperature=0.1)(q, docs, doc_ids, pos_sets)
    assert stats["kl"] == pytest.approx(kl, abs=1e-6)
    assert stats["infonce"] == pytest.approx(nce.item(), abs=1e-9)
    assert loss.item() == pytest.approx(alpha * kl + (1 - alpha) * nce.item(), abs=1e-6)


def test_teacher_callable_equals_precomputed_and_alpha_zero_is_infonce():
    q, docs, doc_ids, pos_sets, own = batch(seed=1, teacher=True)
    table = torch.full((4, 40), NAN)  # (query row, doc id) -> score; only own candidates known
    for i in range(4):
        for s in range(3):
            if doc_ids[i, s] >= 0:
                table[i, doc_ids[i, s]] = own[i, s]

    loss_fn = DistillLoss(teacher_temperature=0.1)
    precomputed, _ = call(loss_fn, q, docs, doc_ids, pos_sets, teacher_scores=own)
    via_callable, _ = call(loss_fn, q, docs, doc_ids, pos_sets, table)
    assert via_callable.item() == pytest.approx(precomputed.item(), abs=1e-12)
    nce_only, _ = DistillLoss(alpha=0.0, teacher_temperature=0.1)(
        q, docs, doc_ids, pos_sets, teacher_scores=own
    )
    plain, _ = InfoNCELoss()(q, docs, doc_ids, pos_sets)
    assert nce_only.item() == pytest.approx(plain.item(), abs=1e-12)
    with pytest.raises(ValueError, match="teacher"):
        call(loss_fn, q, docs, doc_ids, pos_sets)
    with pytest.raises(ValueError, match="alpha"):
        DistillLoss(alpha=1.5)


def test_student_matching_its_teacher_has_zero_kl():
    q, docs, doc_ids, pos_sets, _ = batch(seed=2, teacher=True)
    sims = torch.einsum("bd,bkd->bk", q, docs).masked_fill(doc_ids < 0, NAN)
    loss, _ = DistillLoss(temperature=0.05, teacher_temperature=0.05, alpha=1.0)(
        q, docs, doc_ids, pos_sets, teacher_scores=sims
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-9)


def test_gradients_reach_queries_and_candidates():
    q, docs, doc_ids, pos_sets, teacher = batch(dtype=torch.float32, teacher=True)
    q.requires_grad_(True)
    docs.requires_grad_(True)
    loss_fn = DistillLoss(alpha=1.0, teacher_temperature=0.05)
    loss, _ = loss_fn(q, docs, doc_ids, pos_sets, teacher_scores=teacher)
    loss.backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(docs.grad).all()
    assert q.grad.abs().sum() > 0
    assert docs.grad[:, 0].abs().sum() > 0 and docs.grad[:, 1:].abs().sum() > 0
    assert docs.grad[1, 2].abs().sum() == 0  # padded slot
    assert docs.grad[2, 2].abs().sum() == 0  # a labelled positive is no soft negative


class _Elo:
    """A batch teacher whose scores are Elo points."""

    softmax_temperature = 400.0 / math.log(10.0)

    def __call__(self, cand_ids):
        raise AssertionError("the batch's own teacher_scores are enough here")


def test_unset_teacher_temperature_comes_from_the_teacher_scorer():
    q, docs, doc_ids, pos_sets, teacher = batch(seed=3, teacher=True)
    elo = teacher * 800.0  # Elo points
    loss_fn = DistillLoss(alpha=1.0)  # teacher_temperature: the scorer's
    with pytest.raises(ValueError, match="teacher_temperature is null"):
        loss_fn(q, docs, doc_ids, pos_sets, teacher_scores=elo)
    bound, stats = loss_fn(q, docs, doc_ids, pos_sets, teacher_scores=elo, teacher=_Elo())
    explicit, _ = DistillLoss(alpha=1.0, teacher_temperature=_Elo.softmax_temperature)(
        q, docs, doc_ids, pos_sets, teacher_scores=elo
    )
    assert bound.item() == pytest.approx(explicit.item(), abs=1e-12)
    assert stats["teacher_temperature"] == pytest.approx(173.7178, abs=1e-3)
    # a configured temperature wins over the scorer's
    fixed = DistillLoss(alpha=1.0, teacher_temperature=0.05)
    assert fixed.effective_teacher_temperature(_Elo()) == 0.05
    with pytest.raises(ValueError, match="carries no teacher"):
        loss_fn.effective_teacher_temperature(None)


def test_every_scorer_declares_a_softmax_temperature():
    from zelo.mining.scorers.bm25 import BM25Scorer
    from zelo.mining.scorers.cross_encoder import CrossEncoderScorer
    from zelo.mining.scorers.dense import DenseScorer
    from zelo.mining.scorers.ensemble import EnsembleScorer
    from zelo.mining.scorers.llm_ensemble import LLMEnsembleScorer
    from zelo.mining.scorers.oracle import OracleScorer
    from zelo.mining.scorers.random_scorer import RandomScorer

    for cls in (
        BM25Scorer,
        CrossEncoderScorer,
        DenseScorer,
        LLMEnsembleScorer,
        OracleScorer,
        RandomScorer,
    ):
        assert cls.softmax_temperature > 0, cls
    assert LLMEnsembleScorer.softmax_temperature == pytest.approx(400 / math.log(10))
    rrf = EnsembleScorer([RandomScorer()], fusion="rrf", rrf_k=60)
    assert rrf.softmax_temperature == pytest.approx(1 / 3600)
    assert EnsembleScorer([RandomScorer()], fusion="zscore").softmax_temperature == 1.0


@pytest.mark.slow
def test_tiny_train_run_is_finite(make_cfg):
    from zelo.pipeline import train

    metrics = train(make_cfg("loss=distill", "miner=topk"))
    assert math.isfinite(metrics["train/loss"])
