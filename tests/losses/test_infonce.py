from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from loss_helpers import run_ddp
from torch import nn

from zelo.losses import infonce
from zelo.losses.infonce import InfoNCELoss, candidate_mask, infonce_loss
from zelo.utils import distributed


def _batch(seed: int = 0, b: int = 4, n: int = 2, d: int = 8, dtype=torch.float64):
    """A batch with a shared positive, a second positive, a labelled mined negative and padding."""
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(b, d, generator=g, dtype=dtype), dim=-1)
    docs = F.normalize(torch.randn(b, 1 + n, d, generator=g, dtype=dtype), dim=-1)
    doc_ids = torch.tensor([[10, 11, 12], [10, 13, -1], [20, 21, 22], [30, 31, 20]])[:b]
    pos_sets = torch.tensor([[10, -1], [10, 12], [20, 22], [30, -1]])[:b]
    return q, docs, doc_ids, pos_sets


def _loop_loss(q, docs, doc_ids, pos_sets, scale, in_batch=True):
    """Plain Python reference: one query, one candidate at a time."""
    b, k, _ = docs.shape
    total = 0.0
    for i in range(b):
        positives = {int(p) for p in pos_sets[i] if p >= 0}
        cols = (
            [(j, s) for j in range(b) for s in range(k)] if in_batch else [(i, s) for s in range(k)]
        )
        logits, target = [], None
        for j, s in cols:
            cid = int(doc_ids[j, s])
            own = (j, s) == (i, 0)
            if cid < 0 or (cid in positives and not own):
                continue
            if own:
                target = len(logits)
            logits.append(scale * float(q[i] @ docs[j, s]))
        lse = math.log(sum(math.exp(x) for x in logits))
        total += lse - logits[target]
    return total / b


def test_candidate_mask_hand_computed():
    cand_ids = torch.tensor([10, 11, -1, 10, 12, 20])
    own_col = torch.tensor([0, 3, 5])
    pos_sets = torch.tensor([[10, -1], [10, 12], [20, -1]])
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 1, 1],  # col 3 is another copy of its positive 10
            [0, 1, 0, 1, 0, 1],  # own column 3; 10 elsewhere and its second positive 12 masked
            [1, 1, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(candidate_mask(cand_ids, own_col, pos_sets), expected)
    # no known positives: only padding is masked
    assert torch.equal(
        candidate_mask(cand_ids, own_col, pos_sets[:, :0]), (cand_ids >= 0).expand(3, -1)
    )


def test_vectorised_loss_equals_loop_reference():
    q, docs, doc_ids, pos_sets = _batch()
    loss_fn = InfoNCELoss(temperature=0.07)
    loss, stats = loss_fn(q, docs, doc_ids, pos_sets)
    assert loss.item() == pytest.approx(_loop_loss(q, docs, doc_ids, pos_sets, 1 / 0.07), abs=1e-6)
    # known positives outside the own column: q0 col 3 (10); q1 cols 0 (10), 2 (12);
    # q2 cols 8 (22), 11 (20)
    assert stats["masked"] == 5
    assert stats["temperature"] == pytest.approx(0.07)
    own = InfoNCELoss(temperature=0.07, in_batch_negatives=False)
    loss_own, _ = own(q, docs, doc_ids, pos_sets)
    ref = _loop_loss(q, docs, doc_ids, pos_sets, 1 / 0.07, in_batch=False)
    assert loss_own.item() == pytest.approx(ref, abs=1e-6)


def test_functional_loss_matches_module_and_mask_switch():
    q, docs, doc_ids, pos_sets = _batch(seed=1)
    b, k, _ = docs.shape
    labels = torch.arange(b) * k
    mask = candidate_mask(doc_ids.flatten(), labels, pos_sets)
    direct = infonce_loss(q, docs.flatten(0, 1), labels, mask, 20.0)
    loss, _ = InfoNCELoss(temperature=0.05)(q, docs, doc_ids, pos_sets)
    assert direct.item() == pytest.approx(loss.item(), abs=1e-12)
    unmasked, stats = InfoNCELoss(temperature=0.05, mask_known_positives=False)(
        q, docs, doc_ids, pos_sets
    )
    assert stats["masked"] == 0 and unmasked.item() != pytest.approx(loss.item())


def test_hand_computed_two_by_two():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    docs = torch.tensor([[[1.0, 0.0]], [[0.6, 0.8]]])  # [2, 1, 2]: positives only
    ids = torch.tensor([[0], [1]])
    pos = torch.tensor([[0], [1]])
    loss, stats = InfoNCELoss(temperature=1.0)(q, docs, ids, pos)
    # logits [[1, 0.6], [0, 0.8]]; targets on the diagonal
    expected = (math.log(1 + math.exp(-0.4)) + math.log(1 + math.exp(-0.8))) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert stats["acc"] == 1.0 and stats["masked"] == 0


def test_gradients_reach_queries_and_candidates():
    q, docs, doc_ids, pos_sets = _batch(dtype=torch.float32)
    q.requires_grad_(True)
    docs.requires_grad_(True)
    loss, _ = InfoNCELoss()(q, docs, doc_ids, pos_sets)
    loss.backward()
    assert q.grad.abs().sum() > 0
    assert docs.grad[:, 0].abs().sum() > 0 and docs.grad[:, 1:].abs().sum() > 0
    assert docs.grad[1, 2].abs().sum() == 0  # padded slot


def test_gradients_reach_both_encoder_forwards():
    from zelo.models.encoders import minilm_path
    from zelo.models.transformer import TransformerEncoder

    torch.manual_seed(0)
    enc = TransformerEncoder(
        minilm_path(),
        pretrained=False,
        max_length=16,
        config_overrides={
            "num_hidden_layers": 2,
            "hidden_size": 32,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
    )
    queries = ["what is a cat", "rain in spain"]
    docs = ["a cat is an animal", "dogs bark", "", "spain is rainy", "the plain", "cats"]
    doc_ids = torch.tensor([[0, 1, -1], [3, 4, 5]])
    pos_sets = torch.tensor([[0], [3]])
    loss_fn = InfoNCELoss()
    for tower in ("query", "doc"):
        enc.zero_grad()
        q = enc(enc.tokenize(queries))
        d = enc(enc.tokenize(docs)).view(2, 3, -1)
        q, d = (q, d.detach()) if tower == "query" else (q.detach(), d)
        loss_fn(q, d, doc_ids, pos_sets)[0].backward()
        grad = enc.model.embeddings.word_embeddings.weight.grad
        assert grad is not None and grad.abs().sum() > 0, tower


def test_learnable_temperature_gets_gradient_and_clamps():
    q, docs, doc_ids, pos_sets = _batch(dtype=torch.float32)
    loss_fn = InfoNCELoss(temperature=0.05, learnable_temperature=True, min_temperature=0.02)
    loss, stats = loss_fn(q, docs, doc_ids, pos_sets)
    loss.backward()
    assert loss_fn.temperature.log_scale.grad is not None
    assert loss_fn.temperature.log_scale.grad != 0
    assert stats["temperature"] == pytest.approx(0.05)
    with torch.no_grad():
        loss_fn.temperature.log_scale.fill_(math.log(1000.0))
    assert loss_fn.scale.item() == pytest.approx(50.0)
    assert list(InfoNCELoss().parameters()) == []


# ---- DDP on CPU: gather with gradients equals one process on the union batch ----------------

_WORLD, _B, _K, _DIN, _D = 2, 3, 3, 6, 4


def _ddp_data():
    g = torch.Generator().manual_seed(1)
    b = _WORLD * _B
    xq = torch.randn(b, _DIN, generator=g)
    xd = torch.randn(b, _K, _DIN, generator=g)
    weight = torch.randn(_D, _DIN, generator=g)
    doc_ids = torch.arange(b * _K).view(b, _K)
    doc_ids[4, 0] = doc_ids[0, 0]  # a positive shared across ranks
    doc_ids[2, 2] = -1  # an empty negative slot
    pos_sets = torch.stack([doc_ids[:, 0], torch.full((b,), -1)], dim=1)
    pos_sets[1, 1] = doc_ids[5, 1]  # a labelled positive mined for another query on rank 1
    return xq, xd, weight, doc_ids, pos_sets


def _encoder_grad(encoder: nn.Module, rows: slice) -> torch.Tensor:
    xq, xd, _, doc_ids, pos_sets = _ddp_data()
    b = xq[rows].shape[0]
    out = encoder(torch.cat([xq[rows], xd[rows].flatten(0, 1)]))  # one forward for DDP
    q, docs = F.normalize(out[:b], dim=-1), F.normalize(out[b:], dim=-1).view(b, _K, _D)
    loss, _ = InfoNCELoss(temperature=0.1)(q, docs, doc_ids[rows], pos_sets[rows])
    encoder.zero_grad()
    loss.backward()
    return next(encoder.parameters()).grad.clone()


def _plain_gather(x: torch.Tensor, sizes=None) -> torch.Tensor:
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts)


def _ddp_worker(rank: int) -> dict:
    linear = nn.Linear(_DIN, _D, bias=False)
    with torch.no_grad():
        linear.weight.copy_(_ddp_data()[2])
    model = nn.parallel.DistributedDataParallel(linear)
    rows = slice(rank * _B, (rank + 1) * _B)
    result = {"grad": _encoder_grad(model, rows)}  # DDP-averaged over ranks
    infonce.gather_with_grad = _plain_gather  # the classic mistake
    result["plain_grad"] = _encoder_grad(model, rows)
    uneven = torch.full((rank + 1, 2), float(rank))  # ranks contribute 1 and 2 rows
    result["uneven"] = distributed.gather_no_grad(uneven)
    result["offset"] = distributed.rank_offset(rank + 1)
    return result


@pytest.mark.timeout(180)
def test_ddp_gather_with_grad_matches_single_process(tmp_path):
    result = run_ddp(_ddp_worker, str(tmp_path / "result.pt"), _WORLD)
    linear = nn.Linear(_DIN, _D, bias=False)
    with torch.no_grad():
        linear.weight.copy_(_ddp_data()[2])
    reference = _encoder_grad(linear, slice(0, _WORLD * _B))
    assert torch.allclose(result["grad"], reference, atol=1e-5)
    assert not torch.allclose(result["plain_grad"], reference, atol=1e-3)
    assert torch.equal(result["uneven"], torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
    assert result["offset"] == 1


def test_single_process_gathers_are_identity():
    x = torch.randn(3, 2, requires_grad=True)
    assert distributed.gather_with_grad(x) is x
    assert distributed.gather_no_grad(x) is x
    assert distributed.rank_offset(3) == 0
    assert distributed.gather_sizes(3) == [3]
