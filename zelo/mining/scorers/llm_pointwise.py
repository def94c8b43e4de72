"""Pointwise LLM scorer: judges read each (query, document) of a first stage's top candidates and
give the log-odds that it is relevant ("Yes" over "No"); the candidates are sorted by the mean
log-odds over judges.

References:
    Nogueira et al., Document Ranking with a Pretrained Sequence-to-Sequence Model,
    arXiv:2003.06713 (relevance as the probability of a "true" answer token).
    Liang et al., Holistic Evaluation of Language Models, arXiv:2211.09110 (pointwise yes/no
    relevance prompts with LLMs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch

from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import sort_candidates
from zelo.types import MiningInput, Scorer

log = logging.getLogger(__name__)


def named_judges(judges: Mapping | Sequence) -> dict:
    """The judges by name: a mapping as given, a list as ``<judge.name>_<i>``.

    Raises:
        ValueError: there is none.
    """
    named = (
        dict(judges)
        if isinstance(judges, Mapping)
        else {f"{j.name}_{i}": j for i, j in enumerate(judges)}
    )
    if not named:
        raise ValueError("miner.scorer.judges is empty")
    return named


class LLMPointwiseScorer(ScorerBase):
    """Reranks a first stage's top ``candidates`` by LLM judges' relevance log-odds.

    Args:
        judges: judges by name (or a list), each with ``relevance(inp, queries, docs) ->
            log-odds`` and ``describe()`` (see :mod:`zelo.mining.scorers.judges`).
        first_stage: scorer proposing the candidates.
        candidates: documents per query taken from the first stage; :meth:`rank` returns at most
            this many.
    """

    name = "llm_pointwise"
    softmax_temperature = 1.0  # log-odds

    def __init__(
        self, judges: Mapping | Sequence, first_stage: Scorer, candidates: int = 30
    ) -> None:
        if candidates < 1:
            raise ValueError(f"miner.scorer.candidates must be >= 1, got {candidates}")
        self.judges = named_judges(judges)
        self.first_stage = first_stage
        self.candidates = candidates
        self.reads_judgments = first_stage.reads_judgments or any(
            j.reads_judgments for j in self.judges.values()
        )
        self.info: dict[str, float] = {}

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Mean log-odds over judges of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN
        padded)."""
        out = torch.full(doc_ids.shape, float("nan"))
        rows, cols = (doc_ids >= 0).nonzero(as_tuple=True)
        if not rows.numel():
            return out
        total = torch.zeros(len(rows), dtype=torch.float64)
        for name, judge in self.judges.items():
            log.info("llm_pointwise: judge %s: %s: %d pairs", name, judge.describe(), len(rows))
            total += judge.relevance(inp, rows, doc_ids[rows, cols])
        out[rows, cols] = (total / len(self.judges)).float()
        self.info = {"llm_judgments": float(len(rows) * len(self.judges))}
        return out

    def report(self) -> dict[str, float]:
        return dict(self.info)

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first stage's top ``candidates`` sorted by log-odds: ids, scores ``[Q, depth]``."""
        ids, _ = self.first_stage.rank(inp, self.candidates)  # [Q, C]
        return sort_candidates(ids, self.score(inp, ids), depth)
