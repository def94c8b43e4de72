"""The miner: a scorer ranks candidates, rules filter them, a sampler picks N.

``Miner(scorer, rules, sampling)`` is the one miner class; an option of the ``miner`` group is a
YAML that composes it. A rule is a pure function ``CandidateSet -> keep-mask [Q, K]`` (its
parameters bound in YAML with ``_partial_: true``), living in its own module and tested on its
own; a sampler comes from the ``miner/sampling`` group. The labelled positives are always
excluded first; the FN-free control (``drop_judged``) is one more rule, applied next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial

import torch

from zelo.mining.sampling.samplers import TopSampler
from zelo.types import CandidateSet, MinedNegatives, MiningInput, Scorer
from zelo.utils.tensors import grades_of, isin_rows

log = logging.getLogger(__name__)


class ScorerBase:
    """What every scorer shares; a scorer adds ``name``, ``softmax_temperature``, ``rank`` and
    ``score`` (see :class:`~zelo.types.Scorer`)."""

    reads_judgments = False  # True: the scorer looks at the full judgments (a control)
    cosine_scores = False  # True: scores are cosine similarities in [-1, 1]

    def report(self) -> dict[str, float]:
        """Figures of the last ranking worth logging as ``mining/<key>`` (none by default)."""
        return {}

    def not_negatives(self, inp: MiningInput) -> torch.Tensor | None:
        """``[Q, M]`` documents (``-1`` padded) that must never be mined as negatives besides the
        labelled positives, e.g. a mined file's own positives; ``None`` (default): none."""
        return None

    def column_scorer(
        self, inp: MiningInput
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``(query_index [B], cand_ids [C]) -> [B, C]`` scores for one input (a loss's teacher).

        The default goes through :meth:`score` with the rows outside the batch padded, so that
        memoised scorers (Elo fits, fused ranks) reuse their state; dense scorers override it.
        """

        def columns(query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
            full = torch.full((len(inp.query_texts), len(cand_ids)), -1, dtype=torch.long)
            full[query_index] = cand_ids  # [Q, C]: only the batch's rows
            return self.score(inp, full)[query_index].float()

        return columns


Rule = Callable[[CandidateSet], torch.Tensor]
"""A keep-mask ``[Q, K]`` bool from a :class:`CandidateSet`."""


def not_positive(cands: CandidateSet) -> torch.Tensor:
    """Keep-mask without the query's labelled positives."""
    return ~isin_rows(cands.ids, cands.positives)


def not_listed(cands: CandidateSet, listed: torch.Tensor) -> torch.Tensor:
    """Keep-mask without the documents in ``listed [Q, M]`` (``-1`` padded) of each query."""
    return ~isin_rows(cands.ids, listed)


def not_judged(cands: CandidateSet, min_grade: int = 1) -> torch.Tensor:
    """Keep-mask without every document the full judgments grade ``>= min_grade`` (the FN-free
    control; ``min_grade`` 1: every judged-relevant document).

    A control, not a method: it reads judgments no user has for their training queries.

    Raises:
        ValueError: the collection has no full judgments, or ``min_grade < 1``.
    """
    if min_grade < 1:
        raise ValueError(f"miner.drop_min_grade must be >= 1, got {min_grade}")
    if cands.judgments is None:
        raise ValueError(
            "miner.drop_judged=true needs the full judgments; this collection has none"
        )
    grades = grades_of(cands.ids, cands.judgments)  # [Q, K], NaN at padding
    return ~(grades >= min_grade)


class Miner:
    """Scorer + candidate depth + rules + sampler.

    Args:
        scorer: ranks the corpus per query.
        rules: keep-mask functions by name, applied in order after the positive exclusion (and
            the FN-free control); their drop counts are logged as ``mining/dropped_<name>``.
        sampling: the sampler that picks N of the kept candidates (default: the N best,
            :class:`~zelo.mining.sampling.samplers.TopSampler`); the ``miner/sampling`` config group.
        depth: candidates taken from the scorer per query (K).
        exclude_positives: drop the query's labelled positives (off only to study a miner that
            returns positives).
        drop_judged: the FN-free twin, a **control**: drop every document the full judgments
            call relevant before the rules and the sampling, so no mined negative is a known
            false negative. It reads judgments no user has.
        drop_min_grade: with ``drop_judged``, drop only documents judged at this grade or above
            (1: every judged-relevant document; 2 on a graded collection keeps grade-1 false
            negatives, to measure which grades do the damage).
        mine_every_n_epochs: this miner's own re-mining period (0: the DataModule's setting).
    """

    adaptive = False  # True: the miner changes its hardness between passes (feedback)

    def __init__(
        self,
        scorer: Scorer,
        rules: Mapping[str, Rule] | None = None,
        sampling: Callable | None = None,
        depth: int = 100,
        exclude_positives: bool = True,
        drop_judged: bool = False,
        mine_every_n_epochs: int = 0,
        drop_min_grade: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f"miner.depth must be >= 1, got {depth}")
        if mine_every_n_epochs < 0:
            raise ValueError(f"miner.mine_every_n_epochs must be >= 0, got {mine_every_n_epochs}")
        if drop_min_grade < 1:
            raise ValueError(f"miner.drop_min_grade must be >= 1, got {drop_min_grade}")
        self.scorer = scorer
        self.rules = dict(rules or {})
        self.sampling = sampling if sampling is not None else TopSampler()
        self.depth = depth
        self.exclude_positives = exclude_positives
        self.drop_judged = drop_judged
        self.drop_min_grade = drop_min_grade
        self.mine_every_n_epochs = mine_every_n_epochs

    @property
    def name(self) -> str:
        return self.scorer.name

    @property
    def reads_judgments(self) -> bool:
        """True when the negatives depend on the full judgments (a control or an upper bound)."""
        return self.drop_judged or self.scorer.reads_judgments

    def feedback(self, epoch: int, value: float) -> None:
        """Take the dev nDCG@10 measured before mining ``epoch``; fixed miners ignore it."""

    def state_dict(self) -> dict:
        """What a training checkpoint keeps of the miner (nothing for a fixed miner)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` when a run resumes."""

    def all_rules(self) -> dict[str, Rule]:
        """The positive exclusion, the FN-free control, then the configured rules, in order."""
        first: dict[str, Rule] = {}
        if self.exclude_positives:
            first["positive"] = not_positive
        if self.drop_judged:
            first["judged"] = partial(not_judged, min_grade=self.drop_min_grade)
        return {**first, **self.rules}

    def rules_for(self, inp: MiningInput) -> dict[str, Rule]:
        """:meth:`all_rules`, with the scorer's own positives (:meth:`ScorerBase.not_negatives`,
        counted as ``source_positive``) right after the labelled ones."""
        rules = self.all_rules()
        extra = self.scorer.not_negatives(inp)
        if extra is None:
            return rules
        items = list(rules.items())
        at = 1 if items and items[0][0] == "positive" else 0
        items.insert(at, ("source_positive", partial(not_listed, listed=extra)))
        return dict(items)

    def mine(self, inp: MiningInput) -> MinedNegatives:
        """Run the scorer, apply the rules in order, sample N negatives per query."""
        ids, scores = self.scorer.rank(inp, self.depth)  # [Q, K]
        positives = inp.positives_padded()  # [Q, P]
        pos_scores = self.scorer.score(inp, positives)  # [Q, P]
        cands = CandidateSet(ids, scores, pos_scores, ids >= 0, positives, inp.judgments)
        dropped: dict[str, int] = {}
        keep = cands.keep
        for name, rule in self.rules_for(inp).items():
            mask = rule(replace(cands, keep=keep.clone()))
            dropped[name] = int((keep & ~mask).sum())
            keep = keep & mask
        generator = torch.Generator().manual_seed(int(inp.seed))
        pos = self.sampling(replace(cands, keep=keep), inp.num_negatives, generator)  # [Q, N]
        result = _gather_picks(cands, pos, dropped)
        result.info.update(self.scorer.report())
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


def _gather_picks(
    cands: CandidateSet, pos: torch.Tensor, dropped: dict[str, int]
) -> MinedNegatives:
    """The picked positions ``[Q, N]`` (``-1``: none) as a :class:`MinedNegatives`."""
    safe = pos.clamp(min=0)
    neg_ids = torch.where(pos >= 0, torch.gather(cands.ids, 1, safe), torch.full_like(pos, -1))
    picked = torch.gather(cands.scores, 1, safe).float()
    neg_scores = torch.where(pos >= 0, picked, torch.full(pos.shape, float("nan")))
    return MinedNegatives(
        neg_ids=neg_ids,
        neg_scores=neg_scores,
        pos_scores=cands.pos_scores.float(),
        ranking=cands.ids,
        ranking_scores=cands.scores.float(),
        dropped=dropped,
    )
