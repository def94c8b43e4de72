from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from zelo.models.optim import CompositeOptimizer, LazyAdam, build_optimizer, warmup_schedule


class _Toy(nn.Module):
    def __init__(self, sparse: bool = True) -> None:
        super().__init__()
        self.table = nn.EmbeddingBag(10, 4, mode="mean", sparse=sparse)
        self.proj = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(self.table(ids)))


def _step(model: _Toy, optimizer: torch.optim.Optimizer) -> float:
    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = model(torch.tensor([[1, 2], [3, 4]])).pow(2).sum()
        loss.backward()
        return loss

    return optimizer.step(closure)


def test_sparse_and_dense_parameters_both_move():
    torch.manual_seed(0)
    model = _Toy()
    opt = build_optimizer(model, lr=0.1, sparse_lr=0.5)
    assert isinstance(opt, CompositeOptimizer) and isinstance(opt, torch.optim.Optimizer)
    adamw, sparse_adam = opt.optimizers
    assert isinstance(adamw, torch.optim.AdamW) and isinstance(sparse_adam, LazyAdam)
    assert [p is model.table.weight for p in sparse_adam.param_groups[0]["params"]] == [True]
    decays = {id(p): g["weight_decay"] for g in adamw.param_groups for p in g["params"]}
    assert decays[id(model.proj.weight)] == 0.01
    assert decays[id(model.proj.bias)] == decays[id(model.norm.weight)] == 0.0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss = _step(model, opt)
    assert torch.isfinite(loss) and loss.item() > 0
    for name, p in model.named_parameters():
        assert not torch.equal(p, before[name]), name
    untouched = model.table.weight[[0, 5, 9]]  # rows never looked up keep their values
    assert torch.equal(untouched, before["table.weight"][[0, 5, 9]])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1, 0.5]


def test_single_kind_returns_plain_optimizer_and_skips_frozen():
    model = _Toy(sparse=False)
    model.norm.requires_grad_(False)
    opt = build_optimizer(model, lr=1e-3)
    assert type(opt) is torch.optim.AdamW
    params = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(model.norm.weight) not in params and id(model.table.weight) in params
    only_sparse = nn.Embedding(5, 2, sparse=True)
    assert type(build_optimizer(only_sparse)) is LazyAdam
    with pytest.raises(ValueError):
        build_optimizer(nn.Linear(2, 2).requires_grad_(False))


def test_lambda_lr_scales_every_group():
    model = _Toy()
    opt = build_optimizer(model, lr=1.0, sparse_lr=2.0)
    sched = warmup_schedule(opt, warmup_steps=2, total_steps=4)
    lrs = []
    for _ in range(4):
        lrs.append([g["lr"] for g in opt.param_groups])
        _step(model, opt)
        sched.step()
    assert lrs == [[0.0, 0.0, 0.0], [0.5, 0.5, 1.0], [1.0, 1.0, 2.0], [0.5, 0.5, 1.0]]
    adamw, sparse_adam = opt.optimizers  # the children see the scheduled lr
    assert adamw.param_groups[0]["lr"] == 0.0 and sparse_adam.param_groups[0]["lr"] == 0.0


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model = _Toy()
    opt = build_optimizer(model, lr=0.1)
    _step(model, opt)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)  # as in a checkpoint (state_dict shares tensors)
    buffer.seek(0)
    state = torch.load(buffer)
    assert len(opt.state) == len(list(model.parameters()))  # merged view of the children's

    clone = _Toy()
    clone.load_state_dict(model.state_dict())
    opt2 = build_optimizer(clone, lr=0.1)
    opt2.load_state_dict(state)
    _step(model, opt)
    _step(clone, opt2)
    for (name, p), q in zip(model.named_parameters(), clone.parameters(), strict=True):
        assert torch.allclose(p, q), name
    with pytest.raises(ValueError):
        opt2.load_state_dict({"optimizers": state["optimizers"][:1]})


@pytest.mark.parametrize(
    ("decay", "expected"),
    [
        ("linear", [0.0, 1 / 3, 2 / 3, 1.0, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7, 0.0, 0.0]),
        ("constant", [0.0, 1 / 3, 2 / 3] + [1.0] * 9),
    ],
)
def test_warmup_multipliers(decay, expected):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_schedule(opt, warmup_steps=3, total_steps=10, decay=decay)
    got = []
    for _ in expected:
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == pytest.approx(expected)
    assert sched.state_dict()["lr_lambdas"] == [{}]


def test_warmup_rejects_bad_arguments():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError):
        warmup_schedule(opt, 5, 10, decay="cosine")
    with pytest.raises(ValueError):
        warmup_schedule(opt, 11, 10)
    sched = warmup_schedule(opt, 0, 10)
    assert opt.param_groups[0]["lr"] == 1.0 and sched.get_last_lr() == [1.0]


def test_lightning_automatic_optimization(tmp_path):
    import lightning.pytorch as pl

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.toy = _Toy()

        def training_step(self, batch, batch_idx):
            return self.toy(batch[0]).pow(2).sum()

        def configure_optimizers(self):
            opt = build_optimizer(self, lr=0.1, sparse_lr=0.2)
            sched = warmup_schedule(opt, warmup_steps=1, total_steps=3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    torch.manual_seed(0)
    module = Module()
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    data = torch.utils.data.TensorDataset(torch.randint(0, 10, (6, 3)))
    trainer = pl.Trainer(
        max_steps=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=2))
    assert trainer.global_step == 3
    for name, p in module.named_parameters():
        assert not torch.equal(p, before[name]), name
    assert [g["lr"] for g in trainer.optimizers[0].param_groups] == [0.0, 0.0, 0.0]


def test_lazy_adam_equals_sparse_adam() -> None:

    torch.manual_seed(0)
    a = torch.nn.Embedding(50, 4, sparse=True)
    b = torch.nn.Embedding(50, 4, sparse=True)
    b.weight.data.copy_(a.weight.data)
    ref = torch.optim.SparseAdam(a.parameters(), lr=0.1)
    mine = LazyAdam(b.parameters(), lr=0.1)
    for step in range(4):
        ids = torch.tensor([[1, 2, 2, 7], [7, 3, 40, step]])  # repeats: coalesced rows
        for emb, opt in ((a, ref), (b, mine)):
            opt.zero_grad()
            (emb(ids) ** 2).sum().backward()
            opt.step()
    assert torch.allclose(a.weight, b.weight, atol=1e-6)
    assert not torch.equal(b.weight[5], b.weight[1])  # untouched rows stay, touched rows move
