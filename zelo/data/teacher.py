"""A teacher's scores of (training query, candidate document) pairs, as of one mining pass.

Losses that need a guide or soft labels (``needs_teacher``) ask the DataModule for these after
candidates are gathered across ranks; see :meth:`RetrievalDataModule.teacher_scores`.
"""

from __future__ import annotations

import logging

import torch

from zelo.mining.base import MinedNegatives, MiningInput, Scorer

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


class TeacherScores:
    """Scores of any candidate ids for training queries, from one scorer and one mining pass.

    A scorer with ``embeddings(inp) -> (queries [Q, D], corpus [N, D])`` (the
    :class:`~zelo.mining.dense.DenseScorer`) gives inner products of those embeddings, taken once
    (the scorer memoises them per encoder state; for self-mining they are the student's at
    mining time). Any other scorer goes through
    :meth:`~zelo.mining.base.Scorer.score` on the pass's whole input with rows outside the batch
    padded, so that memoised scorers (Elo fits, fused ranks) reuse their state: ``O(Q * C)``
    per call plus whatever the scorer spends per row. With ``mined`` (the teacher is the
    miner's scorer), a batch's own candidates get the mined scores exactly.

    Args:
        scorer: the teacher.
        inp: the mining pass's input (training queries, corpus).
        mined: that pass's result when ``scorer`` is the miner's scorer, else ``None``.
    """

    def __init__(
        self, scorer: Scorer | None, inp: MiningInput, mined: MinedNegatives | None = None
    ) -> None:
        if scorer is None:
            raise ValueError("this loss needs a teacher: the miner has no scorer")
        self.scorer = scorer
        self.inp = inp
        self.mined = mined
        self._positives = inp.positives_padded() if mined is not None else None
        self._emb: tuple[torch.Tensor, torch.Tensor] | None = None

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
        if hasattr(self.scorer, "embeddings"):
            return self._dense(query_index, cand_ids)
        return self._generic(query_index, cand_ids)

    def _dense(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        if self._emb is None:
            self._emb = self.scorer.embeddings(self.inp)
            log.info(
                "teacher: %s embeddings of %d queries, %d docs",
                self.scorer.name,
                *(len(e) for e in self._emb),
            )
        queries, docs = self._emb
        out = queries[query_index].float() @ docs[cand_ids.clamp(min=0)].float().T  # [B, C]
        return out.masked_fill((cand_ids < 0)[None, :], float("nan"))

    def _generic(self, query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
        full = torch.full((len(self.inp.query_texts), len(cand_ids)), -1, dtype=torch.long)
        full[query_index] = cand_ids  # [Q, C]: only the batch's rows
        return self.scorer.score(self.inp, full)[query_index].float()
