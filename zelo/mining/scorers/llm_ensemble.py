"""zELO scorer: an ensemble of pairwise judges on a sparse random graph, fitted to Elo scores.

For each query, the first stage proposes ``candidates`` documents; the query's labelled
positives join them so that their scores sit on the same scale (the positive-aware rules compare
negatives with positives). The comparison graph is the union of ``degree / 2`` random Hamiltonian
cycles over those documents; every judge compares every pair, the votes are averaged, and a
Bradley–Terry fit gives one Elo score per document (:mod:`zelo.mining.scorers.elo`).

:meth:`LLMEnsembleScorer.rank` returns the first stage's candidates sorted by Elo (a labelled
positive the first stage missed is scored but not ranked, so ``miner/ndcg@10`` measures the
reranking of what the first stage found). :meth:`LLMEnsembleScorer.score` of a document that
was never compared returns the query's lowest Elo minus ``outside_gap`` (below every candidate).

The default config (``conf/miner/llm_ensemble.yaml``) uses *simulated* judges that read the full
judgments (``conf/miner/scorer/judges/simulated.yaml``). Real models on a GPU machine:
``python train.py miner=llm_ensemble miner/scorer/judges=open_llms``, where
``conf/miner/scorer/judges/open_llms.yaml`` is::

    qwen:
      _target_: zelo.mining.scorers.judges.HFCausalLMJudge
      model: Qwen/Qwen2.5-7B-Instruct
      device: cuda
      torch_dtype: bfloat16
      batch_size: 32
    llama:
      _target_: zelo.mining.scorers.judges.HFCausalLMJudge
      model: meta-llama/Llama-3.1-8B-Instruct
      device: cuda
      torch_dtype: bfloat16
      batch_size: 32

References:
    Pipitone et al., zELO: ELO-inspired Training Method for Rerankers and Embedding Models,
    arXiv:2509.12541.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import input_key, sort_candidates, union_rows
from zelo.mining.scorers.elo import bradley_terry, pairs_from_cycles, to_elo
from zelo.mining.scorers.llm_pointwise import named_judges
from zelo.mining.scorers.random_scorer import query_seed
from zelo.types import MiningInput, Scorer
from zelo.utils.tensors import lookup

log = logging.getLogger(__name__)


@dataclass
class _Fit:
    key: str
    pool: torch.Tensor  # [Q, C] compared docs: first-stage candidates, then extra positives
    ranked: torch.Tensor  # [Q, C] bool: from the first stage (returned by rank)
    elo: torch.Tensor  # [Q, C] Elo points (-inf at padding)
    outside: torch.Tensor  # [Q] score of a document that was never compared


def comparison_graph(
    pool: torch.Tensor, degree: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random k-regular comparison pairs of each row's documents.

    Args:
        pool: ``[Q, C]`` doc ids per query, ``-1`` padded (valid entries first).
        degree: comparisons per document (even).
        seed: seeds each query's graph (query ``q`` uses ``query_seed(seed, q)``).

    Returns:
        ``queries [M]``, ``local [M, 2]`` (column positions into ``pool``) and ``offsets [Q + 1]``
        (query ``q``'s pairs are ``offsets[q]:offsets[q + 1]``).
    """
    queries, local, offsets = [], [], [0]
    for q, n in enumerate((pool >= 0).sum(dim=1).tolist()):
        gen = torch.Generator().manual_seed(query_seed(seed, q))
        pairs = pairs_from_cycles(n, degree, gen)
        queries.append(torch.full((len(pairs),), q, dtype=torch.long))
        local.append(pairs)
        offsets.append(offsets[-1] + len(pairs))
    return torch.cat(queries), torch.cat(local), torch.tensor(offsets)


class LLMEnsembleScorer(ScorerBase):
    """Pairwise-judge ensemble (zELO) over a first stage's candidates.

    Args:
        judges: judges by name (or a list), each with ``compare(inp, queries, doc_a, doc_b) ->
            P(a beats b)`` and ``describe()`` (see :mod:`zelo.mining.scorers.judges`).
        first_stage: scorer proposing the candidates.
        candidates: documents per query taken from the first stage.
        degree: comparisons per document (even): the graph is ``degree / 2`` random cycles.
        seed: seeds the comparison graphs (mixed with the mining seed).
        outside_gap: Elo points below a query's lowest candidate given to any document that was
            never compared.

    Cost: about ``Q * (candidates + positives) * degree / 2`` comparisons per judge (an LLM
    judge reads each one twice, once per order).

    References:
        zELO, arXiv:2509.12541.
    """

    name = "llm_ensemble"
    softmax_temperature = 400.0 / math.log(10.0)  # Elo points -> Bradley-Terry odds

    def __init__(
        self,
        judges: Mapping | Sequence,
        first_stage: Scorer,
        candidates: int = 30,
        degree: int = 4,
        seed: int = 0,
        outside_gap: float = 400.0,
    ) -> None:
        if degree < 2 or degree % 2:
            raise ValueError(f"miner.scorer.degree must be even and >= 2, got {degree}")
        if candidates < 2:
            raise ValueError(f"miner.scorer.candidates must be >= 2, got {candidates}")
        self.judges = named_judges(judges)
        self.first_stage = first_stage
        self.candidates = candidates
        self.degree = degree
        self.seed = seed
        self.outside_gap = outside_gap
        self.reads_judgments = first_stage.reads_judgments or any(
            j.reads_judgments for j in self.judges.values()
        )
        self.info: dict[str, float] = {}
        self._fit: _Fit | None = None

    def votes(
        self, inp: MiningInput, queries: torch.Tensor, doc_a: torch.Tensor, doc_b: torch.Tensor
    ) -> torch.Tensor:
        """Judges' ``P(a beats b)`` averaged over judges ``[M]``."""
        total = torch.zeros(len(queries), dtype=torch.float64)
        for name, judge in self.judges.items():
            log.info(
                "llm_ensemble: judge %s: %s: %d comparisons", name, judge.describe(), len(queries)
            )
            total += judge.compare(inp, queries, doc_a, doc_b).double()
        return total / len(self.judges)

    def fit(self, inp: MiningInput) -> _Fit:
        """Compare, fit Bradley–Terry and map to Elo for every query; memoised per input."""
        key = input_key(inp)
        if self._fit is not None and self._fit.key == key:
            return self._fit
        first, _ = self.first_stage.rank(inp, self.candidates)  # [Q, C0]
        pool = union_rows([first], extra=inp.positives_padded())  # [Q, C]
        # union_rows keeps the first stage's (distinct) ids first, in order
        ranked = torch.arange(pool.shape[1]) < (first >= 0).sum(dim=1, keepdim=True)
        queries, local, offsets = comparison_graph(pool, self.degree, self.seed * 7919 + inp.seed)
        doc_a = pool[queries, local[:, 0]]
        doc_b = pool[queries, local[:, 1]]
        wins = self.votes(inp, queries, doc_a, doc_b)  # [M]
        elo = torch.full(pool.shape, float("-inf"), dtype=torch.float64)
        for q in range(len(pool)):
            n = int((pool[q] >= 0).sum())
            sl = slice(int(offsets[q]), int(offsets[q + 1]))
            elo[q, :n] = to_elo(bradley_terry(n, local[sl], wins[sl]))
        low = torch.where(pool >= 0, elo, torch.full_like(elo, float("inf"))).amin(dim=1)
        outside = torch.where(torch.isfinite(low), low, torch.zeros_like(low)) - self.outside_gap
        self.info = {
            "llm_comparisons": float(len(queries)),
            "llm_judge_calls": float(len(queries) * len(self.judges)),
            "llm_docs_per_query": float((pool >= 0).sum(dim=1).float().mean()),
        }
        log.info("llm_ensemble: %s", self.info)
        self._fit = _Fit(key, pool, ranked, elo.float(), outside.float())
        return self._fit

    def report(self) -> dict[str, float]:
        return dict(self.info)

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first stage's candidates sorted by Elo: ids, scores ``[Q, depth]``."""
        fit = self.fit(inp)
        ids = torch.where(fit.ranked, fit.pool, torch.full_like(fit.pool, -1))
        return sort_candidates(ids, fit.elo, depth)

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Elo of ``doc_ids [Q, P]``; never-compared docs get the query's lowest Elo minus
        ``outside_gap``; NaN where ``-1``."""
        fit = self.fit(inp)
        return lookup(doc_ids, fit.pool, fit.elo.float(), fit.outside)
