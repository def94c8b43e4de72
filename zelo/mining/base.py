"""The miner interface: a scorer ranks candidates, rules filter them, a sampler picks N.

A miner is ``scorer + candidate depth + rules + sampling``. Subclasses add rules by overriding
:meth:`Miner.rules`; every rule is a pure function ``(scores [Q, K], pos_scores [Q, P], ...) ->
keep-mask [Q, K]`` that lives in its own module and is tested on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import torch

from zelo.mining.sampling import first_kept, gumbel_top_n, simans_logits

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder

log = logging.getLogger(__name__)


@dataclass
class MiningInput:
    """Everything a miner may look at.

    Attributes:
        query_texts: training queries.
        doc_texts: the whole corpus.
        positives: labelled positives per query (doc indices); never returned as negatives.
        num_negatives: N, negatives wanted per query.
        seed: seeds every random choice; the same seed gives the same negatives.
        judgments: full graded judgments per query (doc index -> grade), used only by scorers
            that are *meant* to know them (``oracle``, the simulated LLM judge) and to measure the
            miner; ``None`` when the collection has none beyond the positives.
        student: the student encoder at mining time (for self-mining scorers); may be ``None``.
    """

    query_texts: list[str]
    doc_texts: list[str]
    positives: list[list[int]]
    num_negatives: int
    seed: int = 0
    judgments: list[dict[int, int]] | None = None
    student: Encoder | None = None

    def __post_init__(self) -> None:
        if len(self.positives) != len(self.query_texts):
            raise ValueError(
                f"positives has {len(self.positives)} rows for {len(self.query_texts)} queries"
            )

    def positives_padded(self) -> torch.Tensor:
        """Labelled positives as a ``[Q, P]`` long tensor, ``-1`` padded (P >= 1)."""
        width = max([len(p) for p in self.positives] + [1])
        out = torch.full((len(self.positives), width), -1, dtype=torch.long)
        for i, p in enumerate(self.positives):
            out[i, : len(p)] = torch.as_tensor(p, dtype=torch.long)
        return out


@dataclass
class MinedNegatives:
    """A miner's result.

    Attributes:
        neg_ids: ``[Q, N]`` doc indices of the selected negatives, ``-1`` where a row ran short.
        neg_scores: ``[Q, N]`` the scorer's scores of those negatives (NaN where ``-1``).
        pos_scores: ``[Q, P]`` the scorer's scores of the labelled positives (NaN padded).
        ranking: ``[Q, K]`` the scorer's own top-K ranking of the corpus for each query
            (positives included, ``-1`` padded): used to measure the miner's intelligence.
        ranking_scores: ``[Q, K]`` the scores that go with ``ranking``.
        dropped: candidates each rule removed, by rule name (summed over queries).
        info: free-form figures a scorer reports (e.g. judge calls, cache hits).
    """

    neg_ids: torch.Tensor
    neg_scores: torch.Tensor
    pos_scores: torch.Tensor
    ranking: torch.Tensor
    ranking_scores: torch.Tensor
    dropped: dict[str, int] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    @property
    def num_short(self) -> int:
        """Queries left with fewer than N negatives."""
        return int((self.neg_ids < 0).any(dim=1).sum())


class Scorer(Protocol):
    """Judges relevance of documents to queries.

    ``softmax_temperature`` is the temperature, in the scorer's own units, that turns its scores
    over a query's candidates into a distribution (cosine 0.05; Elo 400 / ln 10, which gives
    Bradley–Terry odds; logits 1). Distillation uses it when ``loss.teacher_temperature`` is
    ``null`` (:meth:`zelo.losses.distill.DistillLoss.bind_teacher`).
    """

    name: str
    softmax_temperature: float

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query, best first.

        Returns:
            ids ``[Q, K]`` long (``-1`` padded) and scores ``[Q, K]`` float (``-inf`` padded).
        """
        ...

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Scores of given documents: ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN pad)."""
        ...


def label_mask(ids: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """True where ``ids [Q, K]`` holds one of the row's labelled ``positives [Q, P]``.

    Sorted positives + ``searchsorted``: O(Q·K·log P) time and no ``[Q, K, P]`` intermediate,
    so queries with thousands of positives stay cheap. ``-1`` padding never matches.
    """
    if positives.numel() == 0:
        return torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
    sentinel = torch.iinfo(torch.long).max  # padding sorts last and equals no real id
    pos = torch.where(positives >= 0, positives, sentinel).sort(dim=1).values  # [Q, P]
    at = torch.searchsorted(pos, ids.contiguous()).clamp(max=pos.shape[1] - 1)  # [Q, K]
    return (torch.gather(pos, 1, at) == ids) & (ids >= 0)


POS_REDUCTIONS = ("min", "max", "mean")


def reference_score(pos_scores: torch.Tensor, reduce: str = "min") -> torch.Tensor:
    """One reference positive score per query, NaN padding ignored.

    Args:
        pos_scores: ``[Q, P]`` scores of the labelled positives (NaN padded).
        reduce: ``"min"`` (the least similar positive: the strictest threshold, as in
            sentence-transformers' ``mine_hard_negatives``), ``"max"`` or ``"mean"``.

    Returns:
        ``[Q]`` float; NaN for a query without any scored positive (rules then keep every
        candidate of that query, since no comparison with NaN is true).
    """
    if reduce not in POS_REDUCTIONS:
        raise ValueError(f"pos_reduce must be one of {POS_REDUCTIONS}, got {reduce!r}")
    missing = pos_scores.isnan()  # [Q, P]
    if reduce == "mean":
        ref = pos_scores.nanmean(dim=1)
    elif reduce == "min":
        ref = pos_scores.masked_fill(missing, float("inf")).amin(dim=1)
    else:
        ref = pos_scores.masked_fill(missing, float("-inf")).amax(dim=1)
    return ref.masked_fill(missing.all(dim=1), float("nan"))


def select_top(keep: torch.Tensor, n: int) -> torch.Tensor:
    """Column indices of the first ``n`` kept candidates per row (``-1`` when too few).

    Args:
        keep: ``[Q, K]`` bool, candidates in rank order.
        n: how many to take.

    Returns:
        ``[Q, n]`` long positions into the K axis.
    """
    q, k = keep.shape
    order = torch.arange(k).expand(q, k)
    key = torch.where(keep, order, order + k)  # kept first, in rank order
    pos = key.argsort(dim=1, stable=True)[:, :n]
    taken = torch.gather(keep, 1, pos)
    out = torch.where(taken, pos, torch.full_like(pos, -1))
    if out.shape[1] < n:
        out = torch.cat([out, torch.full((q, n - out.shape[1]), -1, dtype=torch.long)], dim=1)
    return out


def select_uniform(keep: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` kept candidates per row drawn uniformly without replacement, kept in rank order."""
    noise = torch.rand(keep.shape, generator=generator)
    key = torch.where(keep, noise, torch.full_like(noise, 2.0))
    picked = torch.zeros_like(keep)
    pos = key.argsort(dim=1)[:, :n]
    picked.scatter_(1, pos, torch.gather(keep, 1, pos))
    return select_top(picked, n)


class Miner:
    """Scorer + candidate depth + rules + sampling.

    Args:
        scorer: ranks the corpus per query.
        depth: candidates taken from the scorer per query (K).
        sampling: ``"top"`` (the N best kept candidates), ``"uniform"`` (N kept candidates at
            random) or ``"simans"`` (N kept candidates drawn with probability
            ``∝ exp(-a (s - s+ - b)^2)``, ``s+`` the query's reference positive score as reduced by
            the miner's ``pos_reduce``, ``"min"`` by default; uniform for a query without one).
        exclude_positives: drop the query's labelled positives from the candidates (always on in
            practice; off only to study a miner that returns positives).
        range_max: every sampling picks among the first ``range_max`` kept candidates only
            (counted after every rule); ``None``: all of them.
        simans_a: SimANS sharpness ``a``; the weights are a Gaussian in the score with std
            ``1 / sqrt(2 a)``, in score units. The default 50 (std 0.1) is for cosine scores:
            MiniLM's top-100 non-positive cosines spread by a median std of 0.04 per NFCorpus
            train query (``bench/st_agreement.py``), so the peak favours candidates within a few
            spreads of ``s+ + b`` yet still reaches the bulk. Rescale it for other score units
            (BM25, cross-encoder logits); SimANS's unnormalised inner products need a smaller one.
        simans_b: SimANS peak offset ``b`` from the positive's score (0: the peak sits at the
            positive's score, the paper's "ambiguous" zone; negative values move it below).

    References:
        Zhou et al., SimANS, arXiv:2210.11773, Sec. 3.
    """

    name = "miner"

    def __init__(
        self,
        scorer: Scorer,
        depth: int = 100,
        sampling: str = "top",
        exclude_positives: bool = True,
        range_max: int | None = None,
        simans_a: float = 50.0,
        simans_b: float = 0.0,
    ) -> None:
        if range_max is not None and range_max < 1:
            raise ValueError(f"miner.range_max must be >= 1 or None, got {range_max}")
        if simans_a < 0:
            raise ValueError(f"miner.simans_a must be >= 0, got {simans_a}")
        if depth < 1:
            raise ValueError(f"miner.depth must be >= 1, got {depth}")
        if sampling not in self.samplings:
            raise ValueError(f"miner.sampling must be one of {self.samplings}, got {sampling!r}")
        self.scorer = scorer
        self.depth = depth
        self.sampling = sampling
        self.exclude_positives = exclude_positives
        self.range_max = range_max
        self.simans_a = simans_a
        self.simans_b = simans_b

    samplings: tuple[str, ...] = ("top", "uniform", "simans")
    pos_reduce: str = "min"  # reference positive of ``simans``; positive-aware miners set it

    def rules(
        self, scores: torch.Tensor, pos_scores: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Keep-masks by rule name, each ``[Q, K]`` bool; applied in order. None by default."""
        return {}

    def sample(
        self,
        scores: torch.Tensor,
        pos_scores: torch.Tensor,
        keep: torch.Tensor,
        n: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Positions ``[Q, n]`` into the candidate axis (``-1`` when a row runs short)."""
        keep = first_kept(keep, self.range_max)
        if self.sampling == "top":
            return select_top(keep, n)
        if self.sampling == "uniform":
            return select_uniform(keep, n, generator)
        ref = reference_score(pos_scores, self.pos_reduce)  # [Q]
        logits = simans_logits(scores, ref, self.simans_a, self.simans_b)  # [Q, K]
        return select_top(gumbel_top_n(logits, keep, n, generator), n)

    def mine(self, inp: MiningInput) -> MinedNegatives:
        """Run the scorer, apply exclusions and rules, sample N negatives per query."""
        ids, scores = self.scorer.rank(inp, self.depth)  # [Q, K]
        positives = inp.positives_padded()  # [Q, P]
        pos_scores = self.scorer.score(inp, positives)  # [Q, P]
        keep = ids >= 0
        dropped: dict[str, int] = {}
        if self.exclude_positives:
            is_pos = label_mask(ids, positives) & keep
            dropped["positive"] = int(is_pos.sum())
            keep &= ~is_pos
        for rule, mask in self.rules(scores, pos_scores, keep.clone()).items():
            dropped[rule] = int((keep & ~mask).sum())
            keep &= mask
        generator = torch.Generator().manual_seed(int(inp.seed))
        pos = self.sample(scores, pos_scores, keep, inp.num_negatives, generator)  # [Q, N]
        safe = pos.clamp(min=0)
        neg_ids = torch.where(pos >= 0, torch.gather(ids, 1, safe), torch.full_like(pos, -1))
        neg_scores = torch.where(
            pos >= 0, torch.gather(scores, 1, safe).float(), torch.full(pos.shape, float("nan"))
        )
        result = MinedNegatives(
            neg_ids=neg_ids,
            neg_scores=neg_scores,
            pos_scores=pos_scores.float(),
            ranking=ids,
            ranking_scores=scores.float(),
            dropped=dropped,
        )
        if result.num_short:
            log.warning(
                "%s: %d of %d queries have fewer than %d negatives after the rules (%s)",
                self.name,
                result.num_short,
                len(ids),
                inp.num_negatives,
                dropped,
            )
        return result
