"""Pairwise comparisons to scores: sparse random comparison graphs and Bradley–Terry/Elo fits.

``pairs_from_cycles`` builds a k-regular comparison graph as the union of k/2 random Hamiltonian
cycles (zELO, Sec. 3): every document takes part in exactly k comparisons, the graph is connected
(so every score is identifiable) and has a small diameter. ``bradley_terry`` fits log-strengths
``θ`` with ``P(a beats b) = σ(θ_a − θ_b)`` by Newton's method on the log-likelihood plus a small
L2 prior (it keeps the fit finite when one document wins all its games and centres ``θ``);
``to_elo`` maps ``θ`` to the Elo scale, ``400 · log10(e^θ)``.

References:
    Pipitone et al., zELO: ELO-inspired Training Method for Rerankers and Embedding Models,
    arXiv:2509.12541.
    Bradley and Terry, Rank Analysis of Incomplete Block Designs, Biometrika 39 (1952).
    Hunter, MM algorithms for generalized Bradley-Terry models, Annals of Statistics 32 (2004).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

ELO_BASE = 400.0  # Elo points per factor of 10 in the odds


def pairs_from_cycles(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """The union of ``k / 2`` random Hamiltonian cycles over ``n`` nodes.

    Every node has degree exactly ``k`` counting multiplicity: an edge drawn by two cycles is
    kept twice (it is compared twice), and for ``n = 2`` each cycle is the edge pair ``(0, 1)``,
    ``(1, 0)``. ``n < 2`` gives no pairs.

    Args:
        n: nodes (documents of one query).
        k: degree, even and >= 0.
        generator: seeds the cycle orders.

    Returns:
        ``[n * k / 2, 2]`` long: ``(a, b)`` node pairs (``a != b``).
    """
    if k < 0 or k % 2:
        raise ValueError(f"the comparison degree must be even and >= 0, got {k}")
    if n < 2 or k == 0:
        return torch.zeros(0, 2, dtype=torch.long)
    cycles = []
    for _ in range(k // 2):
        order = torch.randperm(n, generator=generator)
        cycles.append(torch.stack([order, order.roll(-1)], dim=1))  # [n, 2]
    return torch.cat(cycles)


def degrees(n: int, pairs: torch.Tensor) -> torch.Tensor:
    """Comparisons per node ``[n]`` of ``pairs [M, 2]`` (multi-edges counted)."""
    return torch.bincount(pairs.reshape(-1), minlength=n)


def log_likelihood(
    theta: torch.Tensor, pairs: torch.Tensor, wins: torch.Tensor, l2: float
) -> torch.Tensor:
    """``Σ_e [w_e log σ(d_e) + (1 − w_e) log σ(−d_e)] − l2/2 ‖θ‖²`` with ``d_e = θ_a − θ_b``."""
    d = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    # log σ(d) = −softplus(−d) (F.logsigmoid is far slower on float64 CPU tensors)
    fit = -(wins * F.softplus(-d) + (1 - wins) * F.softplus(d)).sum()
    return fit - 0.5 * l2 * theta.square().sum()


def bradley_terry(
    n: int,
    pairs: torch.Tensor,
    wins: torch.Tensor,
    iters: int = 100,
    l2: float = 1e-3,
    tol: float = 1e-9,
) -> torch.Tensor:
    """Bradley–Terry log-strengths by damped Newton ascent on the penalised log-likelihood.

    Args:
        n: players (documents).
        pairs: ``[M, 2]`` long, ``(a, b)`` per game.
        wins: ``[M]`` in ``[0, 1]``: the share of ``a``'s wins (soft outcomes, e.g. averaged votes).
        iters: Newton steps at most.
        l2: L2 prior strength on ``θ`` (> 0); makes the optimum unique, finite and mean-zero.
        tol: stop when the largest gradient entry is below this.

    Returns:
        ``θ [n]`` float64, natural-log strengths, ``P(a beats b) = σ(θ_a − θ_b)``.
    """
    if l2 <= 0:
        raise ValueError(f"l2 must be > 0, got {l2}")
    theta = torch.zeros(n, dtype=torch.float64)
    if len(pairs) == 0:
        return theta
    w = wins.to(torch.float64)
    inc = torch.zeros(len(pairs), n, dtype=torch.float64)  # [M, n] incidence: +1 at a, -1 at b
    rows = torch.arange(len(pairs))
    inc.index_put_(
        (rows, pairs[:, 0]), torch.ones(len(pairs), dtype=torch.float64), accumulate=True
    )
    inc.index_put_(
        (rows, pairs[:, 1]), -torch.ones(len(pairs), dtype=torch.float64), accumulate=True
    )
    eye = torch.eye(n, dtype=torch.float64)
    obj = log_likelihood(theta, pairs, w, l2)
    for _ in range(iters):
        p = torch.sigmoid(inc @ theta)  # [M]
        grad = inc.T @ (w - p) - l2 * theta  # [n]
        if float(grad.abs().max()) < tol:
            break
        hess = inc.T @ (inc * (p * (1 - p)).unsqueeze(1)) + l2 * eye  # [n, n], minus the Hessian
        step = torch.linalg.solve(hess, grad)
        theta, obj = _line_search(theta, step, obj, pairs, w, l2)
    return theta


def _line_search(
    theta: torch.Tensor,
    step: torch.Tensor,
    obj: torch.Tensor,
    pairs: torch.Tensor,
    w: torch.Tensor,
    l2: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Halve the Newton step until the objective does not drop (concave, so this ends)."""
    t = 1.0
    while True:
        new = theta + t * step
        new_obj = log_likelihood(new, pairs, w, l2)
        if new_obj >= obj or t < 1e-10:
            return new, new_obj
        t *= 0.5


def to_elo(theta: torch.Tensor) -> torch.Tensor:
    """Natural-log strengths -> Elo points: ``400 · log10(e^θ)`` (a 400-point gap = 10:1 odds)."""
    return theta * (ELO_BASE / math.log(10.0))


def win_probability(elo_a: torch.Tensor, elo_b: torch.Tensor) -> torch.Tensor:
    """Elo's expected score of ``a`` against ``b``: ``1 / (1 + 10^((E_b − E_a) / 400))``."""
    return 1.0 / (1.0 + torch.pow(10.0, (elo_b - elo_a) / ELO_BASE))
