"""Every measurement of false negatives and of the mining pass they come from: one home.

``miner/ndcg@10`` is the miner's intelligence (how well its own ranking of the corpus agrees with
the full judgments); ``mining/fn_rate`` is the share of selected negatives that the full
judgments call relevant (false negatives). The rest: their hardness on a reference scorer, the
teacher's estimate where no judgments exist, the in-batch false negatives, the student's view.

Each function takes tensors (and judgments) and returns numbers; the mining step
(:func:`zelo.mining.measured.mine_and_measure`) and the false-negative monitor
(:mod:`zelo.callbacks.false_negatives`) only gather their inputs and log their outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from zelo.eval.metrics import mean_ndcg
from zelo.keys import (
    DUP_OF_POSITIVE_RATE,
    FN_RATE,
    FN_STUDENT_ABOVE_POS,
    FN_STUDENT_ABOVE_POS_FN,
    FN_STUDENT_ABOVE_POS_TN,
    FN_STUDENT_MARGIN_MEAN,
    MINING_FN_HARDNESS,
    MINING_FN_PER_QUERY,
    MINING_NEG_SCORE_MEAN,
    MINING_NUM_NEGATIVES,
    MINING_NUM_SHORT,
    MINING_POS_SCORE_MEAN,
    MINING_TN_HARDNESS,
    MINING_TN_SCORE_MEAN,
    dropped_key,
    miner_ndcg_key,
)
from zelo.types import MinedNegatives, MiningInput, Scorer
from zelo.utils.scores import at_or_above, reference_score
from zelo.utils.tensors import grades_of, isin_rows


def inbatch_false_negatives(
    doc_ids: torch.Tensor, judgments: Sequence[dict[int, int]], pos_sets: torch.Tensor
) -> tuple[int, int]:
    """False negatives among the in-batch negatives of a training batch.

    For query ``i`` the in-batch negatives are every document in the *other* rows of the batch
    (their positives and mined negatives), minus the query's own labelled positives (the loss
    masks those). A false negative is one the full judgments call relevant to ``i``.

    Args:
        doc_ids: ``[B, 1+N]`` corpus indices (positive first, ``-1`` padding).
        judgments: full graded judgments of the batch's queries (doc index -> grade).
        pos_sets: ``[B, P]`` labelled positives of the batch's queries (``-1`` padded).

    Returns:
        ``(false_negatives, in_batch_negatives)`` counts over the batch.
    """
    b, width = doc_ids.shape
    cands = doc_ids.reshape(1, -1).expand(b, -1)  # [B, B*(1+N)]
    other = torch.arange(b).repeat_interleave(width)[None, :] != torch.arange(b)[:, None]
    keep = other & (cands >= 0) & ~isin_rows(cands, pos_sets)  # [B, C]
    relevant = grades_of(cands, judgments).nan_to_num(0.0) > 0
    return int((keep & relevant).sum()), int(keep.sum())


def teacher_false_negative_rate(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> float:
    """Estimated FN rate: share of negatives a teacher scores at or above the query's positive.

    The same rule as the loss's guide (:func:`zelo.utils.scores.at_or_above`, no margin).

    Args:
        neg_scores: ``[Q, N]`` teacher scores of the negatives (NaN where no negative).
        pos_scores: ``[Q, P]`` teacher scores of the labelled positives (NaN padded).
        reduce: how several positives give one reference score.
    """
    ref = reference_score(pos_scores, reduce)  # [Q]
    valid = torch.isfinite(neg_scores) & torch.isfinite(ref).unsqueeze(1)
    if not valid.any():
        return math.nan
    return float((at_or_above(neg_scores, ref) & valid).sum() / valid.sum())


def score_margins(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, reduce: str = "min"
) -> torch.Tensor:
    """Margins ``negative − positive`` of every valid negative, flattened ``[M]``."""
    margins = neg_scores - reference_score(pos_scores, reduce).unsqueeze(1)
    return margins[torch.isfinite(margins)]


def relevance_of(neg_ids: torch.Tensor, judgments: Sequence[dict[int, int]]) -> torch.Tensor:
    """Full-judgment grade of each selected negative ``[Q, N]`` (0 unjudged, -1 for none)."""
    grades = grades_of(neg_ids, judgments)  # NaN where -1
    return grades.nan_to_num(-1.0).long()


def share(hit: torch.Tensor, among: torch.Tensor) -> float:
    """Share of ``among`` (bool) that is also ``hit``; NaN when ``among`` is empty."""
    n = int(among.sum())
    return float((hit & among).sum()) / n if n else math.nan


def student_view(
    q_emb: torch.Tensor, pos_emb: torch.Tensor, neg_emb: torch.Tensor, grades: torch.Tensor
) -> tuple[dict[str, float], torch.Tensor]:
    """How the student ranks each query's mined negatives against its positive.

    Args:
        q_emb: ``[S, D]`` query embeddings of the sampled training queries.
        pos_emb: ``[S, D]`` their first labelled positive's embedding.
        neg_emb: ``[S, N, D]`` their mined negatives' embeddings (any value where no negative).
        grades: ``[S, N]`` full-judgment grade of each negative (0: true negative, > 0: false
            negative, -1: no negative).

    Returns:
        ``fn/student_above_pos`` (share of negatives the student scores above the positive),
        its split over false (``_fn``) and true (``_tn``) negatives, ``fn/student_margin_mean``,
        and the margins ``negative − positive`` of every valid negative ``[M]``.
    """
    pos = (q_emb * pos_emb).sum(-1)  # [S]
    neg = torch.einsum("sd,snd->sn", q_emb, neg_emb)  # [S, N]
    valid = grades >= 0
    margin = torch.where(valid, neg - pos.unsqueeze(1), torch.nan)
    above = margin > 0
    return {
        FN_STUDENT_ABOVE_POS: share(above, valid),
        FN_STUDENT_ABOVE_POS_FN: share(above, valid & (grades > 0)),
        FN_STUDENT_ABOVE_POS_TN: share(above, valid & (grades == 0)),
        FN_STUDENT_MARGIN_MEAN: float(torch.nanmean(margin)) if valid.any() else math.nan,
    }, margin[valid]


def teacher_scores(
    scorer: Scorer | None, inp: MiningInput, mined: MinedNegatives
) -> tuple[torch.Tensor, torch.Tensor]:
    """A teacher's scores of a pass's negatives ``[Q, N]`` (NaN where none) and of the labelled
    positives ``[Q, P]``; ``scorer`` ``None``: the miner's own scores."""
    if scorer is None:
        return mined.neg_scores, mined.pos_scores
    neg = scorer.score(inp, mined.neg_ids).float()  # [Q, N]
    pos = scorer.score(inp, inp.positives_padded()).float()  # [Q, P]
    return neg.where(mined.neg_ids >= 0, torch.nan), pos


def false_negative_counts(neg_ids: torch.Tensor, judgments: list[dict[int, int]]) -> torch.Tensor:
    """Per query ``[Q]``: selected negatives (ids >= 0) that the judgments grade > 0."""
    counts = [
        sum(1 for d in row if d >= 0 and j.get(d, 0) > 0)
        for row, j in zip(neg_ids.tolist(), judgments, strict=True)
    ]
    return torch.tensor(counts, dtype=torch.long)


def duplicate_of_positive_counts(
    neg_ids: torch.Tensor, positives: list[list[int]], duplicates: list[list[int]]
) -> torch.Tensor:
    """Per query ``[Q]``: negatives that are another document with a labelled positive's text.

    Args:
        neg_ids: ``[Q, N]`` selected negatives, ``-1`` padded.
        positives: labelled positives per query.
        duplicates: groups of doc indices whose texts are identical.
    """
    group = {d: g for g, members in enumerate(duplicates) for d in members}
    counts = []
    for row, pos in zip(neg_ids.tolist(), positives, strict=True):
        pos_set = set(pos)
        pos_groups = {group[p] for p in pos if p in group}
        counts.append(
            sum(1 for d in row if d >= 0 and d not in pos_set and group.get(d, -1) in pos_groups)
        )
    return torch.tensor(counts, dtype=torch.long)


def nanmean(x: torch.Tensor) -> float:
    """Mean of the non-NaN entries; NaN when there are none."""
    x = x.float().flatten()
    x = x[~torch.isnan(x)]
    return float(x.mean()) if x.numel() else math.nan


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def mining_stats(
    mined: MinedNegatives,
    judgments: list[dict[int, int]] | None,
    positives: list[list[int]],
    k: int = 10,
    duplicates: list[list[int]] | None = None,
) -> dict[str, float]:
    """Figures of one mining pass, keyed for logging.

    Args:
        mined: the miner's result.
        judgments: full graded judgments per query (doc index -> grade); ``None`` when the
            collection has none beyond the positives (judgment-based figures are then NaN).
        positives: labelled positives per query.
        k: nDCG cut-off of the miner's intelligence (names the key).
        duplicates: groups of doc indices with identical text; adds ``dup_of_positive_rate``.

    Returns:
        ``miner/ndcg@<k>`` and ``mining/*`` figures (means are over queries; rates over the
        selected negatives; NaN where undefined).
    """
    num_q = mined.neg_ids.shape[0]
    selected = (mined.neg_ids >= 0).sum(dim=1)  # [Q]
    total = int(selected.sum())
    stats = {
        miner_ndcg_key(k): math.nan,
        FN_RATE: math.nan,
        MINING_FN_PER_QUERY: math.nan,
        MINING_NUM_NEGATIVES: _ratio(total, num_q),
        MINING_NUM_SHORT: float(mined.num_short),
        MINING_POS_SCORE_MEAN: nanmean(mined.pos_scores),
        MINING_NEG_SCORE_MEAN: nanmean(mined.neg_scores),
    }
    if judgments is not None:
        fn = false_negative_counts(mined.neg_ids, judgments)
        stats[miner_ndcg_key(k)] = mean_ndcg(mined.ranking, judgments, k)
        stats[FN_RATE] = _ratio(int(fn.sum()), total)
        stats[MINING_FN_PER_QUERY] = _ratio(int(fn.sum()), num_q)
    for rule, count in mined.dropped.items():
        stats[dropped_key(rule)] = float(count)
    if duplicates is not None:
        dup = duplicate_of_positive_counts(mined.neg_ids, positives, duplicates)
        stats[DUP_OF_POSITIVE_RATE] = _ratio(int(dup.sum()), total)
    return stats


def hardness_stats(
    neg_scores: torch.Tensor, pos_scores: torch.Tensor, grades: torch.Tensor, reduce: str = "min"
) -> dict[str, float]:
    """How hard the mined negatives are, on a reference scorer's scale.

    Args:
        neg_scores: ``[Q, N]`` the reference scorer's scores of the mined negatives (NaN: none).
        pos_scores: ``[Q, P]`` its scores of the labelled positives (NaN padded).
        grades: ``[Q, N]`` each negative's full-judgment grade (0: true negative, > 0: false
            negative, -1: no negative).
        reduce: how several positives give the reference positive score.

    Returns:
        ``mining/tn_hardness`` (mean of ``s(neg) - s(pos)`` over the true negatives: closer to 0
        is harder), ``mining/tn_score_mean`` (their mean score) and ``mining/fn_hardness`` (the
        same margin over the false negatives); NaN where there are none.
    """
    margin = neg_scores.double() - reference_score(pos_scores.double(), reduce).unsqueeze(1)
    finite = torch.isfinite(margin)
    tn, fn = finite & (grades == 0), finite & (grades > 0)
    return {
        MINING_TN_HARDNESS: nanmean(margin[tn]),
        MINING_TN_SCORE_MEAN: nanmean(neg_scores[tn]),
        MINING_FN_HARDNESS: nanmean(margin[fn]),
    }
