"""Measurements of one mining pass against the full judgments.

``miner/ndcg@10`` is the miner's intelligence (how well its own ranking of the corpus agrees with
the full judgments); ``mining/fn_rate`` is the share of selected negatives that the full
judgments call relevant (false negatives).
"""

from __future__ import annotations

import logging
import math

import torch

from zelo.eval.metrics import mean_ndcg
from zelo.keys import DUP_OF_POSITIVE_RATE
from zelo.types import MinedNegatives
from zelo.utils.scores import reference_score

log = logging.getLogger(__name__)


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
        f"miner/ndcg@{k}": math.nan,
        "mining/fn_rate": math.nan,
        "mining/fn_per_query": math.nan,
        "mining/num_negatives": _ratio(total, num_q),
        "mining/num_short": float(mined.num_short),
        "mining/pos_score_mean": nanmean(mined.pos_scores),
        "mining/neg_score_mean": nanmean(mined.neg_scores),
    }
    if judgments is not None:
        fn = false_negative_counts(mined.neg_ids, judgments)
        stats[f"miner/ndcg@{k}"] = mean_ndcg(mined.ranking, judgments, k)
        stats["mining/fn_rate"] = _ratio(int(fn.sum()), total)
        stats["mining/fn_per_query"] = _ratio(int(fn.sum()), num_q)
    for rule, count in mined.dropped.items():
        stats[f"mining/dropped_{rule}"] = float(count)
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
        "mining/tn_hardness": nanmean(margin[tn]),
        "mining/tn_score_mean": nanmean(neg_scores[tn]),
        "mining/fn_hardness": nanmean(margin[fn]),
    }
