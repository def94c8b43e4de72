"""Optimisers and learning-rate schedules: AdamW for dense weights, SparseAdam for sparse tables."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

log = logging.getLogger(__name__)

# zelo's decay option -> the transformers schedule that implements it
DECAYS = {"linear": "linear", "constant": "constant_with_warmup"}


def _sparse_params(module: nn.Module) -> set[int]:
    """Ids of the weights of embedding modules built with ``sparse=True`` (their grads are sparse)."""
    return {
        id(m.weight)
        for m in module.modules()
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse
    }


def _split_params(
    module: nn.Module,
) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """Trainable parameters split into (decayed dense, undecayed dense, sparse), each once."""
    sparse_ids = _sparse_params(module)
    decay, no_decay, sparse = [], [], []
    for p in module.parameters():  # shared parameters are yielded once
        if not p.requires_grad:
            continue
        if id(p) in sparse_ids:
            sparse.append(p)
        elif p.ndim < 2:  # biases, LayerNorm weights, scalars such as a learnable temperature
            no_decay.append(p)
        else:
            decay.append(p)
    return decay, no_decay, sparse


class CompositeOptimizer(torch.optim.Optimizer):
    """Several optimisers behind one ``torch.optim.Optimizer`` (for Lightning and LR schedulers).

    ``param_groups`` is the union of the children's groups (the same dicts, so a scheduler that sets
    ``lr`` reaches the children); ``step(closure)`` evaluates the closure once, then steps each child.

    Args:
        optimizers: the child optimisers; their parameters must not overlap.
    """

    def __init__(self, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        self.optimizers = list(optimizers)
        params = [p for o in self.optimizers for g in o.param_groups for p in g["params"]]
        if len(params) != len({id(p) for p in params}):
            raise ValueError("child optimisers share parameters")
        super().__init__(params, defaults={})
        self.param_groups = [g for o in self.optimizers for g in o.param_groups]

    @property
    def state(self) -> dict:
        """The children's per-parameter states in one dict (their own state dicts, not copies)."""
        merged: dict = {}
        for o in self.optimizers:
            merged.update(o.state)
        return merged

    @state.setter
    def state(self, value: dict) -> None:  # the base class assigns an empty state; children own it
        pass

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for o in self.optimizers:
            o.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state_dict: dict) -> None:
        states = state_dict["optimizers"]
        if len(states) != len(self.optimizers):
            raise ValueError(f"{len(states)} saved optimiser states for {len(self.optimizers)}")
        for o, s in zip(self.optimizers, states, strict=True):
            o.load_state_dict(s)

    def __repr__(self) -> str:
        return f"CompositeOptimizer({', '.join(type(o).__name__ for o in self.optimizers)})"


class LazyAdam(torch.optim.Optimizer):
    """Adam for row-sparse gradients: updates only the rows a batch touched.

    The same update as ``torch.optim.SparseAdam`` (moments and bias corrections with a global
    step count), written with ``index_select``/``index_copy_`` so a step costs O(rows touched)
    instead of passes over the whole table.

    Args:
        params: parameters whose gradients are sparse COO tensors (embedding tables).
        lr: learning rate.
        betas: moment decay rates.
        eps: added to the denominator.
    """

    def __init__(
        self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: torch.Tensor, group: dict) -> None:
        grad = p.grad.coalesce() if p.grad.is_sparse else p.grad.to_sparse().coalesce()
        rows, values = grad.indices()[0], grad.values()  # [R], [R, D]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        m = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(values, alpha=1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2)
        v.addcmul_(values, values, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        t = state["step"]
        step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        p.index_add_(0, rows, m.div_(v.sqrt_().add_(group["eps"])), alpha=-step_size)


def build_optimizer(
    module: nn.Module,
    lr: float = 2e-5,
    weight_decay: float = 0.01,
    sparse_lr: float | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """AdamW over dense parameters, SparseAdam over sparse embedding tables.

    Biases, LayerNorm weights and other parameters with fewer than 2 dimensions get no weight decay.
    Embedding modules built with ``sparse=True`` go to :class:`LazyAdam` (SparseAdam's update
    rule, computed on the touched rows only; no weight decay).

    Args:
        module: the model (frozen parameters are skipped).
        lr: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay for matrices.
        sparse_lr: SparseAdam learning rate (default ``lr``).
        betas: Adam moment coefficients, shared by both optimisers.

    Returns:
        AdamW, SparseAdam, or a :class:`CompositeOptimizer` holding both.

    References:
        AdamW, arXiv:1711.05101; Adam, arXiv:1412.6980.
    """
    decay, no_decay, sparse = _split_params(module)
    groups = [
        {"params": ps, "weight_decay": wd}
        for ps, wd in ((decay, weight_decay), (no_decay, 0.0))
        if ps
    ]
    optimizers: list[torch.optim.Optimizer] = []
    if groups:
        optimizers.append(torch.optim.AdamW(groups, lr=lr, betas=betas))
    if sparse:
        sparse_lr = lr if sparse_lr is None else sparse_lr
        optimizers.append(LazyAdam(sparse, lr=sparse_lr, betas=betas))
    if not optimizers:
        raise ValueError("no trainable parameters")
    log.info(
        "optimiser: %d decayed, %d undecayed dense, %d sparse tensors",
        len(decay),
        len(no_decay),
        len(sparse),
    )
    return optimizers[0] if len(optimizers) == 1 else CompositeOptimizer(optimizers)


def warmup_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, decay: str = "linear"
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from 0 to the optimiser's lr, then linear decay to 0 (or ``constant``):
    ``transformers.get_scheduler``'s ``linear`` and ``constant_with_warmup``.

    Args:
        optimizer: every param group is scaled by the same multiplier.
        warmup_steps: optimiser steps of warm-up (0: start at full lr).
        total_steps: steps at which linear decay reaches 0.
        decay: ``linear`` or ``constant``.

    Returns:
        A ``LambdaLR`` to step once per optimiser step.
    """
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {tuple(DECAYS)}, got {decay!r}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps})")
    from transformers import get_scheduler

    return get_scheduler(
        DECAYS[decay], optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps
    )
