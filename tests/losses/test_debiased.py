from __future__ import annotations

import math

import pytest
import torch
from loss_helpers import batch

from zelo.losses.debiased import DebiasedContrastiveLoss, debiased_loss
from zelo.losses.infonce import InfoNCELoss


def _loop(q, docs, doc_ids, pos_sets, t, tau_plus, in_batch=True):
    """Plain loop of Chuang et al.'s estimator; N counts the valid negatives only."""
    b, k, _ = docs.shape
    total, clamped = 0.0, 0
    for i in range(b):
        positives = {int(p) for p in pos_sets[i] if p >= 0}
        cols = (
            [(j, s) for j in range(b) for s in range(k)] if in_batch else [(i, s) for s in range(k)]
        )
        pos, negs = math.exp(float(q[i] @ docs[i, 0]) / t), []
        for j, s in cols:
            cid = int(doc_ids[j, s])
            if (j, s) == (i, 0) or cid < 0 or cid in positives:
                continue
            negs.append(math.exp(float(q[i] @ docs[j, s]) / t))
        n = len(negs)
        estimate = (sum(negs) - tau_plus * n * pos) / (1 - tau_plus)
        floor = n * math.exp(-1 / t)
        clamped += estimate < floor
        total += -math.log(pos / (pos + max(estimate, floor)))
    return total / b, clamped / b


@pytest.mark.parametrize(("tau_plus", "in_batch"), [(0.1, True), (0.3, False), (0.6, True)])
def test_loss_equals_loop_reference(tau_plus: float, in_batch: bool):
    q, docs, doc_ids, pos_sets = batch()
    loss_fn = DebiasedContrastiveLoss(
        temperature=0.5, tau_plus=tau_plus, in_batch_negatives=in_batch
    )
    loss, stats = loss_fn(q, docs, doc_ids, pos_sets)
    ref, clamped = _loop(q, docs, doc_ids, pos_sets, 0.5, tau_plus, in_batch)
    assert loss.item() == pytest.approx(ref, abs=1e-9)
    assert stats["clamped"] == pytest.approx(clamped)
    assert stats["masked"] == (5 if in_batch else 1)


def test_clamp_hand_computed():
    # logits: positive 2, negatives 0 and 0 (N = 2); tau+ = 0.5, floor logit -1
    logits = torch.tensor([[2.0, 0.0, 0.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False]])
    loss, clamped = debiased_loss(logits, torch.tensor([0]), mask, tau_plus=0.5, floor_logit=-1.0)
    # (2 - 0.5 * 2 * e^2) / 0.5 < 0 -> Ng = 2 e^-1
    expected = -math.log(math.exp(2) / (math.exp(2) + 2 * math.exp(-1)))
    assert loss.item() == pytest.approx(expected, abs=1e-12) and clamped.tolist() == [True]


def test_tau_plus_zero_is_infonce_and_large_scales_stay_finite():
    q, docs, doc_ids, pos_sets = batch(seed=3)
    for in_batch in (True, False):
        plain, _ = InfoNCELoss(temperature=0.05, in_batch_negatives=in_batch)(
            q, docs, doc_ids, pos_sets
        )
        loss, stats = DebiasedContrastiveLoss(
            temperature=0.05, tau_plus=0.0, in_batch_negatives=in_batch
        )(q, docs, doc_ids, pos_sets)
        assert loss.item() == pytest.approx(plain.item(), abs=1e-9) and stats["clamped"] == 0
    q32, docs32 = q.float(), docs.float()
    loss, _ = DebiasedContrastiveLoss(temperature=0.01, min_temperature=0.01, tau_plus=0.1)(
        q32, docs32, doc_ids, pos_sets
    )  # e^100 overflows float32 without the row shift
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="tau_plus"):
        DebiasedContrastiveLoss(tau_plus=1.0)


def test_gradients_reach_queries_and_candidates():
    q, docs, doc_ids, pos_sets = batch(dtype=torch.float32)
    q.requires_grad_(True)
    docs.requires_grad_(True)
    loss_fn = DebiasedContrastiveLoss(temperature=0.5, tau_plus=0.1, learnable_temperature=True)
    loss, _ = loss_fn(q, docs, doc_ids, pos_sets)
    loss.backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(docs.grad).all()
    assert q.grad.abs().sum() > 0
    assert docs.grad[:, 0].abs().sum() > 0 and docs.grad[:, 1:].abs().sum() > 0
    assert docs.grad[1, 2].abs().sum() == 0  # padded slot
    assert loss_fn.temperature.log_scale.grad is not None and torch.isfinite(
        loss_fn.temperature.log_scale.grad
    )


@pytest.mark.slow
def test_tiny_train_run_is_finite(make_cfg):
    from zelo.pipeline import train

    metrics = train(make_cfg("loss=debiased", "miner=topk"))
    assert math.isfinite(metrics["train/loss"])
