"""Fusion of several scorers: reciprocal rank fusion or normalised-score sums.

Each scorer ranks its top ``candidates`` per query; the fused ranking orders the union of those
lists. ``rrf`` adds ``w / (rrf_k + rank)`` over the lists a document appears in (1-based rank, a
list it is missing from adds 0). ``zscore`` standardises each scorer's scores per query over the
union (mean 0, std 1) and adds them with weights ``w``; ``minmax`` (CombSUM) rescales them per
query over the union to [0, 1] (min 0, max 1) and adds them with weights ``w``.

References:
    Cormack, Clarke and Büttcher, Reciprocal Rank Fusion outperforms Condorcet and individual
    Rank Learning Methods, SIGIR 2009.
    Fox and Shaw, Combination of Multiple Searches, TREC-2 (1994) (score fusion).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import input_key, sort_candidates, union_rows
from zelo.types import MiningInput, Scorer
from zelo.utils.tensors import lookup

log = logging.getLogger(__name__)

FUSIONS = ("rrf", "zscore", "minmax")


def rrf_scores(
    doc_ids: torch.Tensor, lists: list[torch.Tensor], weights: Sequence[float], rrf_k: float = 60
) -> torch.Tensor:
    """Reciprocal rank fusion of ranked lists.

    Args:
        doc_ids: ``[Q, P]`` documents to score, ``-1`` padded.
        lists: ranked candidate lists, each ``[Q, C_i]``, best first, ``-1`` padded.
        weights: one weight per list.
        rrf_k: rank offset k of RRF (larger: flatter weighting of the top ranks).

    Returns:
        ``[Q, P]``: ``sum_i w_i / (rrf_k + rank_i(d))`` (rank 1-based; a missing doc adds 0),
        NaN where ``doc_ids`` is ``-1``.
    """
    total = torch.zeros(doc_ids.shape)
    for ids, w in zip(lists, weights, strict=True):
        ranks = torch.arange(1, ids.shape[1] + 1, dtype=torch.float32).expand(ids.shape)
        total = total + lookup(doc_ids, ids, (float(w) / (rrf_k + ranks)).float(), 0.0)
    return total


def zscore_stats(scores: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row mean and std ``[Q]`` of ``scores [Q, U]`` over ``valid`` entries (std 0 -> 1)."""
    n = valid.sum(dim=1).clamp(min=1)
    x = torch.where(valid, scores.float(), torch.zeros_like(scores.float()))
    mean = x.sum(dim=1) / n
    var = torch.where(valid, (x - mean[:, None]) ** 2, torch.zeros_like(x)).sum(dim=1) / n
    std = var.sqrt()
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def minmax_stats(scores: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row offset (the minimum) and scale (max - min; 0 -> 1) ``[Q]`` of ``scores [Q, U]``
    over ``valid`` entries, so that ``(s - offset) / scale`` spans [0, 1]."""
    x = scores.float()
    low = torch.where(valid, x, torch.full_like(x, float("inf"))).amin(dim=1)
    high = torch.where(valid, x, torch.full_like(x, float("-inf"))).amax(dim=1)
    span = high - low
    ok = torch.isfinite(span) & (span > 0)
    return torch.where(torch.isfinite(low), low, torch.zeros_like(low)), torch.where(
        ok, span, torch.ones_like(span)
    )


def zscore_scores(
    mats: list[torch.Tensor],
    stats: list[tuple[torch.Tensor, torch.Tensor]],
    weights: Sequence[float],
) -> torch.Tensor:
    """``sum_i w_i * (s_i - mean_i) / std_i`` of score matrices ``[Q, P]`` with row stats ``[Q]``
    (:func:`zscore_stats`; with :func:`minmax_stats` the same sum is CombSUM of min-max scores)."""
    total = torch.zeros(mats[0].shape)
    for s, (mean, std), w in zip(mats, stats, weights, strict=True):
        total = total + float(w) * (s.float() - mean[:, None]) / std[:, None]
    return total


@dataclass
class _State:
    key: str
    union: torch.Tensor  # [Q, U]
    lists: list[torch.Tensor]  # each [Q, C]
    union_scores: list[torch.Tensor] | None  # each [Q, U] (score fusions only)
    stats: list[tuple[torch.Tensor, torch.Tensor]] | None


class EnsembleScorer(ScorerBase):
    """Fuses any scorers by reciprocal rank fusion or z-scored score averaging.

    Args:
        scorers: scorers by name (or a list; names then come from each scorer's ``name``).
        fusion: ``"rrf"``, ``"zscore"`` or ``"minmax"``.
        weights: per-scorer weights (same keys as ``scorers``, or a list in order); ``None``: 1.
        rrf_k: RRF rank offset k.
        candidates: documents each scorer contributes per query; the fused ranking orders the
            union, so ``rank(depth)`` returns at most that union.

    References:
        Cormack et al., SIGIR 2009 (RRF).
    """

    name = "ensemble"

    def __init__(
        self,
        scorers: Mapping[str, Scorer] | Sequence[Scorer],
        fusion: str = "rrf",
        weights: Mapping[str, float] | Sequence[float] | None = None,
        rrf_k: int = 60,
        candidates: int = 200,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"miner.scorer.fusion must be one of {FUSIONS}, got {fusion!r}")
        if isinstance(scorers, Mapping):
            self.scorers = {str(k): v for k, v in scorers.items()}
        else:
            self.scorers = {f"{s.name}_{i}": s for i, s in enumerate(scorers)}
        if not self.scorers:
            raise ValueError("miner.scorer.scorers is empty")
        self.weights = self._weights(weights)
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.reads_judgments = any(s.reads_judgments for s in self.scorers.values())
        self._state: _State | None = None

    @property
    def softmax_temperature(self) -> float:
        """RRF: ``1 / rrf_k**2``, about one logit per rank step near the top; z-scores: 1;
        min-max sums (each in [0, 1]): 0.05, as for cosines."""
        return {"rrf": 1.0 / self.rrf_k**2, "zscore": 1.0}.get(self.fusion, 0.05)

    def _weights(self, weights: Mapping[str, float] | Sequence[float] | None) -> list[float]:
        names = list(self.scorers)
        if weights is None:
            return [1.0] * len(names)
        if isinstance(weights, Mapping):
            unknown = set(weights) - set(names)
            if unknown:
                raise ValueError(f"miner.scorer.weights names unknown scorers {sorted(unknown)}")
            return [float(weights.get(n, 1.0)) for n in names]
        if len(weights) != len(names):
            raise ValueError(f"miner.scorer.weights has {len(weights)} entries for {names}")
        return [float(w) for w in weights]

    def state(self, inp: MiningInput) -> _State:
        """Candidate lists, their union and (zscore) the per-scorer row stats; memoised."""
        key = input_key(inp)
        if self._state is not None and self._state.key == key:
            return self._state
        lists = [s.rank(inp, self.candidates)[0] for s in self.scorers.values()]
        union = union_rows(lists)  # [Q, U]
        mats = stats = None
        if self.fusion != "rrf":
            row_stats = zscore_stats if self.fusion == "zscore" else minmax_stats
            mats = [s.score(inp, union) for s in self.scorers.values()]
            stats = [row_stats(m, union >= 0) for m in mats]
        self._state = _State(key, union, lists, mats, stats)
        log.info(
            "ensemble (%s of %s): %.1f candidates per query",
            self.fusion,
            ", ".join(self.scorers),
            float((union >= 0).sum(dim=1).float().mean()),
        )
        return self._state

    def _fuse(self, inp: MiningInput, st: _State, doc_ids: torch.Tensor) -> torch.Tensor:
        if self.fusion == "rrf":
            out = rrf_scores(doc_ids, st.lists, self.weights, self.rrf_k)
        else:
            mats = st.union_scores if doc_ids is st.union else None
            mats = mats or [s.score(inp, doc_ids) for s in self.scorers.values()]
            out = zscore_scores(mats, st.stats, self.weights)
        return torch.where(doc_ids >= 0, out, torch.full_like(out, float("nan")))

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The union of the scorers' candidates by fused score: ids, scores ``[Q, depth]``."""
        st = self.state(inp)
        return sort_candidates(st.union, self._fuse(inp, st, st.union), depth)

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Fused scores of ``doc_ids [Q, P]`` (RRF: 0 outside every list) -> ``[Q, P]``."""
        return self._fuse(inp, self.state(inp), doc_ids)
