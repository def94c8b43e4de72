"""A teacher's scores of (training query, candidate document) pairs, as of one mining pass.

Losses that need a guide or soft labels get them through the batch only: the collator puts each
query's own candidates' scores into it (``teacher_scores [B, 1+N]``), and the pass's
:class:`TeacherScores` for the batch's queries (``teacher``, a :class:`BatchTeacherScores`),
which the loss calls on candidate columns gathered from every rank.
"""

from __future__ import annotations

import logging

import torch

from zelo.types import MinedNegatives, MiningInput, Scorer, Teacher

log = logging.getLogger(__name__)


def mined_own_scores(
    mined: MinedNegatives, positives: torch.Tensor, query_index: torch.Tensor, doc_ids: torch.Tensor
) -> torch.Tensor | None:
    """The miner's own scores of each query's positive (slot 0) and mined negatives.

    Args:
        mined: the mining pass (``pos_scores`` aligned with ``positives``' columns).
        positives: ``[Q, P]`` labelled positives of every training query, -1 padded.
        query_index: ``[B]`` positions in the train QuerySet.
        doc_ids: ``[B, 1+N]`` a training batch's ids.

    Returns:
        ``[B, 1+N]`` float (NaN at empty slots), or ``None`` when ``doc_ids`` is not that layout.
    """
    negs = mined.neg_ids[query_index]  # [B, N]
    hit = positives[query_index] == doc_ids[:, :1]  # [B, P]
    if doc_ids.shape[1] != negs.shape[1] + 1 or not torch.equal(doc_ids[:, 1:], negs):
        return None
    if not bool(hit.any(dim=1).all()):
        return None
    pos = mined.pos_scores[query_index].gather(1, hit.float().argmax(dim=1, keepdim=True))
    return torch.cat([pos, mined.neg_scores[query_index]], dim=1).float()


class BatchTeacherScores:
    """The pass's teacher for one training batch's queries: ``cand_ids [C] -> [B, C]``.

    A plain object (no dataclass), so moving the batch to a device leaves it as it is.

    Args:
        teacher: the pass's scores (:class:`TeacherScores`).
        query_index: ``[B]`` the batch's positions in the train query set.
    """

    __slots__ = ("teacher", "query_index", "softmax_temperature")

    def __init__(self, teacher: Teacher, query_index: torch.Tensor) -> None:
        self.teacher = teacher
        self.query_index = query_index
        self.softmax_temperature = teacher.softmax_temperature

    def __call__(self, cand_ids: torch.Tensor) -> torch.Tensor:
        return self.teacher(self.query_index, cand_ids)


class TeacherScores:
    """Scores of any candidate ids for training queries, from one scorer and one mining pass.

    The scorer's :meth:`~zelo.mining.base.ScorerBase.column_scorer` is taken once per pass (a
    dense scorer embeds queries and corpus once; others go through ``score`` on the pass's whole
    input, so memoised scorers reuse their state). With ``mined`` (the teacher is the miner's
    scorer), a batch's own candidates get the mined scores exactly.

    Args:
        scorer: the teacher.
        inp: the mining pass's input (training queries, corpus).
        mined: that pass's result when ``scorer`` is the miner's scorer, else ``None``.

    Attributes:
        softmax_temperature: the scorer's own (see :class:`~zelo.types.Scorer`).
    """

    def __init__(
        self, scorer: Scorer, inp: MiningInput, mined: MinedNegatives | None = None
    ) -> None:
        self.scorer = scorer
        self.softmax_temperature = float(scorer.softmax_temperature)
        self.inp = inp
        self.mined = mined
        self._positives = inp.positives_padded() if mined is not None else None
        self._columns = None

    def __call__(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        """``query_index [B]``, ``cand_ids [C]`` (shared) or ``[B, K]`` -> ``[B, C]`` / ``[B, K]``.

        Float32 on CPU, NaN where an id is -1.
        """
        query_index, cand_ids = query_index.cpu(), cand_ids.cpu()
        if cand_ids.dim() == 2:
            if self.mined is not None:
                own = mined_own_scores(self.mined, self._positives, query_index, cand_ids)
                if own is not None:
                    return own
            uniq, inv = cand_ids.unique(return_inverse=True)  # [U], [B, K]
            return self(query_index, uniq).gather(1, inv)
        if self._columns is None:
            self._columns = self.scorer.column_scorer(self.inp)
            log.info("teacher: %s scores for this mining pass", self.scorer.name)
        return self._columns(query_index, cand_ids).float()
