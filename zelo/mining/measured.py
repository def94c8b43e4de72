"""Mine and measure a pass: the one step that training (the DataModule) and ``zelo-mine`` share."""

from __future__ import annotations

import time

from zelo.eval.false_negatives import hardness_stats, mining_stats, relevance_of
from zelo.keys import MINING_SECONDS, mining_key
from zelo.mining.base import Miner
from zelo.types import MinedNegatives, MiningInput, Scorer


def mine_and_measure(
    miner: Miner,
    inp: MiningInput,
    reference: Scorer | None = None,
    duplicates: list[list[int]] | None = None,
) -> tuple[MinedNegatives, dict[str, float]]:
    """Run ``miner`` on ``inp`` and measure the pass against ``inp.judgments``.

    Args:
        miner: the miner.
        inp: what it sees (with the full judgments when the collection has them).
        reference: the scorer that measures how hard the negatives are (``mining/tn_hardness``
            and friends, needs judgments); ``None``: not measured.
        duplicates: groups of doc indices with identical text (adds
            ``mining/dup_of_positive_rate``).

    Returns:
        The mined negatives and the pass's figures: ``miner/ndcg@10``, ``mining/*`` (see
        :func:`~zelo.eval.false_negatives.mining_stats`), the miner's own ``mining/<info>``
        and ``mining/seconds`` (the miner's wall time).
    """
    start = time.perf_counter()
    mined = miner.mine(inp)
    seconds = time.perf_counter() - start
    stats = mining_stats(mined, inp.judgments, inp.positives, duplicates=duplicates)
    stats[MINING_SECONDS] = seconds
    stats.update({mining_key(k): float(v) for k, v in mined.info.items()})
    if reference is not None and inp.judgments is not None:
        neg = reference.score(inp, mined.neg_ids)  # [Q, N]
        pos = reference.score(inp, inp.positives_padded())  # [Q, P]
        stats.update(hardness_stats(neg, pos, relevance_of(mined.neg_ids, inp.judgments)))
    return mined, stats
