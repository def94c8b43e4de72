from __future__ import annotations

import csv
import math

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from loss_helpers import TableTeacher, batch, call, run_ddp
from torch import nn

from zelo.losses.infonce import InfoNCELoss
from zelo.losses.infonce_masked import MaskedInfoNCELoss, guide_mask

NAN = float("nan")


def _teacher_table(seed: int = 1) -> torch.Tensor:
    """Teacher score of (query row, doc id) for ids 0..39, float32 like the DataModule's."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(4, 40, generator=g)


def _loop(q, docs, doc_ids, pos_sets, table, scale, margin, in_batch=True):
    """Plain loop: InfoNCE, skipping candidates the guide rates above s+ - margin."""
    b, k, _ = docs.shape
    total, dropped = 0.0, 0
    for i in range(b):
        positives = {int(p) for p in pos_sets[i] if p >= 0}
        s_pos = float(table[i, int(doc_ids[i, 0])])
        cols = (
            [(j, s) for j in range(b) for s in range(k)] if in_batch else [(i, s) for s in range(k)]
        )
        logits, target = [], None
        for j, s in cols:
            cid, own = int(doc_ids[j, s]), (j, s) == (i, 0)
            if cid < 0 or (cid in positives and not own):
                continue
            if not own and float(table[i, cid]) >= s_pos - margin:
                dropped += 1
                continue
            if own:
                target = len(logits)
            logits.append(scale * float(q[i] @ docs[j, s]))
        total += math.log(sum(math.exp(x) for x in logits)) - logits[target]
    return total / b, dropped


def test_guide_mask_hand_computed_with_ties_and_nan():
    scores = torch.tensor(
        [
            [0.9, 0.95, 0.9, 0.5, NAN],  # positive in column 0; a tie in column 2
            [0.2, 0.3, 0.7, 0.6, 0.75],  # positive in column 3
            [NAN, 0.3, 0.7, 0.6, 0.75],  # unscored positive: nothing dropped
        ]
    )
    pos_col = torch.tensor([0, 3, 0])
    keep = guide_mask(scores, pos_col, margin=0.0)
    assert keep.tolist() == [
        [True, False, False, True, True],  # the tie with the positive goes
        [True, True, False, True, False],
        [True, True, True, True, True],
    ]
    # absolute margin 0.1: drop s >= s+ - 0.1 (0.8; 0.5) -> the positive stays
    keep = guide_mask(scores, pos_col, margin=0.1)
    assert keep[0].tolist() == [True, False, False, True, True]
    assert keep[1].tolist() == [True, True, False, True, False]
    # relative margin 0.5: drop s >= s+ * 0.5 (0.45; 0.3) -> 0.3 is a tie and goes
    keep = guide_mask(scores, pos_col, margin=0.5, mode="relative")
    assert keep[0].tolist() == [True, False, False, False, True]
    assert keep[1].tolist() == [True, False, False, True, False]
    # a negative margin drops only what is clearly above the positive
    assert guide_mask(scores, pos_col, margin=-0.2)[1].tolist() == [True] * 5
    with pytest.raises(ValueError, match="margin mode"):
        guide_mask(scores, pos_col, mode="ratio")


@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_loss_equals_loop_reference(margin: float):
    q, docs, doc_ids, pos_sets = batch()
    table = _teacher_table()
    loss_fn = MaskedInfoNCELoss(temperature=0.07, margin=margin)
    loss, stats = call(loss_fn, q, docs, doc_ids, pos_sets, table)
    ref, dropped = _loop(q, docs, doc_ids, pos_sets, table, 1 / 0.07, margin)
    assert loss.item() == pytest.approx(ref, abs=1e-6)
    assert stats["masked_guide"] == dropped > 0
    assert stats["masked"] == 5  # known positives, as InfoNCE


def test_own_candidates_only_use_teacher_scores():
    q, docs, doc_ids, pos_sets = batch(seed=2)
    table = _teacher_table(seed=3)
    own = TableTeacher(table)(torch.arange(4), doc_ids.flatten()).view(4, 4, 3)
    own = own[torch.arange(4), torch.arange(4)]
    loss_fn = MaskedInfoNCELoss(temperature=0.1, in_batch_negatives=False)
    loss, _ = call(loss_fn, q, docs, doc_ids, pos_sets, teacher_scores=own)
    via_callable, _ = call(loss_fn, q, docs, doc_ids, pos_sets, table)
    ref, _ = _loop(q, docs, doc_ids, pos_sets, table, 10.0, 0.0, in_batch=False)
    assert loss.item() == pytest.approx(ref, abs=1e-6)
    assert via_callable.item() == pytest.approx(ref, abs=1e-6)


def test_permissive_guide_is_infonce_and_teacher_is_required():
    q, docs, doc_ids, pos_sets = batch()
    loss, stats = call(MaskedInfoNCELoss(margin=-2.0), q, docs, doc_ids, pos_sets, _teacher_table())
    plain, _ = InfoNCELoss()(q, docs, doc_ids, pos_sets)
    assert loss.item() == pytest.approx(plain.item(), abs=1e-12) and stats["masked_guide"] == 0
    with pytest.raises(ValueError, match="teacher"):
        call(MaskedInfoNCELoss(), q, docs, doc_ids, pos_sets, teacher_scores=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="margin_strategy"):
        MaskedInfoNCELoss(margin_strategy="ratio")


def test_gradients_reach_queries_and_candidates():
    q, docs, doc_ids, pos_sets = batch(dtype=torch.float32)
    q.requires_grad_(True)
    docs.requires_grad_(True)
    loss, _ = call(MaskedInfoNCELoss(margin=0.1), q, docs, doc_ids, pos_sets, _teacher_table())
    loss.backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(docs.grad).all()
    assert q.grad.abs().sum() > 0
    assert docs.grad[:, 0].abs().sum() > 0 and docs.grad[:, 1:].abs().sum() > 0
    assert docs.grad[1, 2].abs().sum() == 0  # padded slot


@pytest.mark.slow
def test_tiny_train_run_is_finite_and_logs_guide_counts(make_cfg, tmp_path):
    from zelo.pipeline import train

    metrics = train(make_cfg("loss=infonce_masked", "miner=topk"))
    assert math.isfinite(metrics["train/loss"])
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/masked_guide")]
    assert rows and all(float(r["train/masked_guide"]) >= 0 for r in rows)


def _guide_counts(tmp_path) -> list[float]:
    with open(tmp_path / "csv" / "metrics.csv") as f:
        return [
            float(r["train/masked_guide"]) for r in csv.DictReader(f) if r.get("train/masked_guide")
        ]


@pytest.mark.slow
def test_configured_teacher_replaces_the_miners_scorer(make_cfg, tmp_path):
    """``teacher=oracle``: the full training judgments guide the loss, whatever the miner."""
    from zelo.pipeline import train

    metrics = train(make_cfg("loss=infonce_masked", "miner=random", "teacher=oracle"))
    assert metrics["run/teacher"] == "oracle" and metrics["run/miner"] == "random"
    oracle = _guide_counts(tmp_path)
    # a random miner's negatives are almost never relevant, but in-batch candidates of queries
    # on the same topic are: only a teacher that knows the hidden judgments can find them
    assert oracle and sum(oracle) > 0
    (tmp_path / "csv" / "metrics.csv").unlink()
    (tmp_path / "metrics.json").unlink()  # a finished folder answers only for its own config
    own = train(make_cfg("loss=infonce_masked", "miner=random"))
    assert own["run/teacher"] == "miner"
    assert _guide_counts(tmp_path) != oracle


# ---- DDP on CPU: guided masking over gathered candidates equals one process ------------------

_WORLD, _B, _K, _DIN, _D = 2, 3, 3, 6, 4


def _ddp_data():
    g = torch.Generator().manual_seed(4)
    b = _WORLD * _B
    xq, xd = torch.randn(b, _DIN, generator=g), torch.randn(b, _K, _DIN, generator=g)
    weight = torch.randn(_D, _DIN, generator=g)
    doc_ids = torch.arange(b * _K).view(b, _K)
    doc_ids[2, 2] = -1
    pos_sets = doc_ids[:, :1].clone()
    table = torch.rand(b, b * _K, generator=g)  # teacher score of (global query, doc id)
    return xq, xd, weight, doc_ids, pos_sets, table


def _encoder_grad(encoder: nn.Module, rows: slice) -> tuple[torch.Tensor, float]:
    xq, xd, _, doc_ids, pos_sets, table = _ddp_data()
    b = xq[rows].shape[0]
    out = encoder(torch.cat([xq[rows], xd[rows].flatten(0, 1)]))
    q, docs = F.normalize(out[:b], dim=-1), F.normalize(out[b:], dim=-1).view(b, _K, _D)
    query_index = torch.arange(rows.start, rows.stop)  # local queries x gathered ids
    loss_fn = MaskedInfoNCELoss(temperature=0.1, margin=0.1)
    loss, stats = call(loss_fn, q, docs, doc_ids[rows], pos_sets[rows], table, rows=query_index)
    encoder.zero_grad()
    loss.backward()
    return next(encoder.parameters()).grad.clone(), stats["masked_guide"]


def _ddp_worker(rank: int) -> dict:
    linear = nn.Linear(_DIN, _D, bias=False)
    with torch.no_grad():
        linear.weight.copy_(_ddp_data()[2])
    model = nn.parallel.DistributedDataParallel(linear)
    grad, masked = _encoder_grad(model, slice(rank * _B, (rank + 1) * _B))
    counts = [torch.zeros(1) for _ in range(_WORLD)]
    dist.all_gather(counts, torch.tensor([masked]))
    return {"grad": grad, "masked": float(sum(counts))}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ddp_masked_loss_matches_single_process(tmp_path):
    result = run_ddp(_ddp_worker, str(tmp_path / "result.pt"), _WORLD)
    linear = nn.Linear(_DIN, _D, bias=False)
    with torch.no_grad():
        linear.weight.copy_(_ddp_data()[2])
    reference, masked = _encoder_grad(linear, slice(0, _WORLD * _B))
    assert masked > 0 and result["masked"] == masked
    assert torch.allclose(result["grad"], reference, atol=1e-5)
