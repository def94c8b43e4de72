"""Train/dev/test query splits and the annotation view (labelled vs hidden positives)."""

from __future__ import annotations

import logging
import random

from zelo.data.beir import DataError
from zelo.types import Collection, Qrels, QuerySet

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
STRATEGIES = ("best", "random")


def resolve_splits(
    collection: Collection,
    train: str | None = "train",
    dev: str | None = "dev",
    test: str | None = "test",
    seed: int = 0,
    dev_fraction: float = 0.2,
    test_fraction: float = 0.3,
    draw_missing: bool = False,
) -> dict[str, Qrels]:
    """Map the collection's qrels splits to ``train``/``dev``/``test``, drawing missing ones.

    ``dev=None`` carves a seeded dev split (``dev_fraction`` of the train queries) out of train.
    ``train=None`` draws train (and dev, when ``dev`` is None too) from the ``test`` queries:
    ``test_fraction`` stays test, ``dev_fraction`` goes to dev, the rest to train. The outcome is
    recorded in ``collection.info["splits"]`` (source split and query count per split, whether
    it was seeded and with which seed).

    Args:
        collection: the loaded collection.
        train: qrels split used for training, or None to draw it from ``test``.
        dev: qrels split used for validation, or None to draw it from train.
        test: qrels split used for testing (required).
        seed: seeds every drawn split.
        dev_fraction: share of the pool that becomes dev when dev is drawn.
        test_fraction: share of the test queries kept for test when train is drawn.
        draw_missing: a named train or dev split absent from the collection is drawn as if it
            were None (logged), instead of an error.

    Returns:
        ``{"train": Qrels, "dev": Qrels, "test": Qrels}``.

    Raises:
        DataError: a named split does not exist, or a drawn split comes out empty.
    """
    if test is None:
        raise DataError(f"{collection.name}: a test split is required")
    if draw_missing:
        train, dev = _absent_as_none(collection, train, dev)
    for split in (train, dev, test):
        if split is not None and split not in collection.qrels:
            raise DataError(
                f"{collection.name}: unknown qrels split {split!r}; "
                f"splits present: {sorted(collection.qrels)}"
            )
    out, source = _draw(collection, train, dev, test, seed, dev_fraction, test_fraction)
    for split in ("train", "test"):
        if not out[split]:
            raise DataError(f"{collection.name}: the {split} split has no queries ({source})")
    if not out["dev"]:
        log.warning("%s: the dev split has no queries (%s)", collection.name, source)
    _check_disjoint(collection.name, out)
    seeded = train is None or dev is None
    collection.info["splits"] = {
        **{s: {"from": source[s], "queries": len(out[s])} for s in SPLITS},
        "seeded": seeded,
        "seed": seed if seeded else None,
    }
    log.info("%s: splits %s", collection.name, collection.info["splits"])
    return out


def _absent_as_none(
    collection: Collection, train: str | None, dev: str | None
) -> tuple[str | None, str | None]:
    """``train``/``dev`` with each split the collection lacks replaced by None (to be drawn)."""
    out = []
    for role, split in (("train", train), ("dev", dev)):
        if split is not None and split not in collection.qrels:
            log.info(
                "%s: no %r qrels split (present: %s); the %s split is drawn, seeded",
                collection.name,
                split,
                sorted(collection.qrels),
                role,
            )
            split = None
        out.append(split)
    return out[0], out[1]


def _draw(
    collection: Collection,
    train: str | None,
    dev: str | None,
    test: str,
    seed: int,
    dev_fraction: float,
    test_fraction: float,
) -> tuple[dict[str, Qrels], dict[str, str]]:
    """The three splits and, per split, a short description of where it came from."""
    qrels = collection.qrels
    if train is not None and dev is not None:
        return {"train": qrels[train], "dev": qrels[dev], "test": qrels[test]}, {
            "train": train,
            "dev": dev,
            "test": test,
        }
    if train is not None:
        parts = _partition(qrels[train], {"dev": dev_fraction}, "train", seed)
        return {**parts, "test": qrels[test]}, {
            "train": f"{train} minus dev",
            "dev": f"{dev_fraction:g} of {train}",
            "test": test,
        }
    fractions = (
        {"test": test_fraction} if dev is not None else {"test": test_fraction, "dev": dev_fraction}
    )
    parts = _partition(qrels[test], fractions, "train", seed)
    source = {s: f"{f:g} of {test}" for s, f in fractions.items()}
    source["train"] = f"rest of {test}"
    if dev is not None:
        parts["dev"], source["dev"] = qrels[dev], dev
    return parts, source


def _partition(qrels: Qrels, fractions: dict[str, float], rest: str, seed: int) -> dict[str, Qrels]:
    """Seeded split of the queries of ``qrels``: ``fractions`` by name, the remainder to ``rest``.

    Each named part gets ``round(fraction * n)`` queries, at least one when the fraction is
    positive and n >= 2.
    """
    qids = sorted(qrels)
    random.Random(seed).shuffle(qids)
    out: dict[str, Qrels] = {}
    start = 0
    for name, fraction in fractions.items():
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name} fraction must be in [0, 1), got {fraction}")
        k = round(fraction * len(qids))
        if fraction > 0 and k == 0 and len(qids) >= 2:
            k = 1
        out[name] = {q: qrels[q] for q in sorted(qids[start : start + k])}
        start += k
    out[rest] = {q: qrels[q] for q in sorted(qids[start:])}
    return out


def _check_disjoint(name: str, splits: dict[str, Qrels]) -> None:
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            shared = splits[a].keys() & splits[b].keys()
            if shared:
                log.warning("%s: %d queries are in both %s and %s", name, len(shared), a, b)


def build_query_set(
    collection: Collection,
    qrels: Qrels,
    keep_positives: int | None = None,
    strategy: str = "best",
    seed: int = 0,
    min_grade: int = 1,
) -> QuerySet:
    """The annotation view of one split: which judged documents training may see.

    Args:
        collection: the collection the qrels refer to.
        qrels: one split's judgments.
        keep_positives: labelled positives kept per query; None keeps every positive (dev/test).
            The other judged documents go to ``hidden``.
        strategy: ``"best"`` keeps the highest grades first (seeded random order among equal
            grades); ``"random"`` keeps a uniformly random (seeded) subset.
        seed: seeds the choice; each query's choice depends only on the seed and its id.
        min_grade: documents with a grade below this are never positives (they stay hidden).

    Returns:
        The query set, queries sorted by id; positives best first (grade, then doc index).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if keep_positives is not None and keep_positives < 1:
        raise ValueError(f"keep_positives must be >= 1 or None, got {keep_positives}")
    qset = QuerySet([], [], [], [], [])
    for qid in sorted(qrels):
        if qid not in collection.query_index:
            raise DataError(f"{collection.name}: qrels name unknown query id {qid!r}")
        judged = _judgments(collection, qid, qrels[qid])
        positives = _choose(
            judged, keep_positives, strategy, random.Random(f"{seed}/{qid}"), min_grade
        )
        qset.query_ids.append(qid)
        qset.query_texts.append(collection.query_texts[collection.query_index[qid]])
        qset.judgments.append(judged)
        qset.positives.append(positives)
        shown = set(positives)
        qset.hidden.append({d: g for d, g in judged.items() if d not in shown})
    empty = sum(not p for p in qset.positives)
    if empty:
        log.warning(
            "%s: %d of %d queries have no document with grade >= %d",
            collection.name,
            empty,
            len(qset),
            min_grade,
        )
    return qset


def _judgments(collection: Collection, qid: str, judged: dict[str, int]) -> dict[int, int]:
    """Doc index -> grade (> 0), sorted by doc index."""
    index = collection.doc_index
    missing = [d for d in judged if d not in index]
    if missing:
        raise DataError(f"{collection.name}: query {qid!r} judges unknown document {missing[0]!r}")
    return dict(sorted((index[d], g) for d, g in judged.items() if g > 0))


def _choose(
    judged: dict[int, int], keep: int | None, strategy: str, rng: random.Random, min_grade: int
) -> list[int]:
    """Labelled positives of one query, best first."""
    candidates = [d for d, g in judged.items() if g >= min_grade]
    if keep is not None and keep < len(candidates):
        rng.shuffle(candidates)
        if strategy == "best":
            candidates.sort(key=lambda d: -judged[d])  # stable: random among equal grades
        candidates = candidates[:keep]
    return sorted(candidates, key=lambda d: (-judged[d], d))


def build_query_sets(
    collection: Collection,
    splits: dict[str, Qrels],
    keep_positives: int | None = 1,
    strategy: str = "best",
    seed: int = 0,
    max_train_queries: int | None = None,
    max_eval_queries: int | None = None,
) -> dict[str, QuerySet]:
    """The ``train``/``dev``/``test`` query sets: the annotation view on train, all judged
    documents as positives on dev and test, each cut to its first ``max_*`` queries.

    Raises:
        DataError: a split has no judged query.
    """
    limits = {"train": max_train_queries, "dev": max_eval_queries, "test": max_eval_queries}
    out: dict[str, QuerySet] = {}
    for split, qrels in splits.items():
        keep = keep_positives if split == "train" else None
        qs = build_query_set(collection, qrels, keep, strategy, seed)
        if limits.get(split) is not None:
            qs = qs.head(int(limits[split]))
        if len(qs) == 0:
            raise DataError(f"split {split!r} of {collection.name} has no judged queries")
        out[split] = qs
    log.info(
        "%s: %d docs; queries train %d / dev %d / test %d; %d labelled and %d hidden "
        "positives in train",
        collection.name,
        len(collection.doc_texts),
        *(len(out[s]) for s in ("train", "dev", "test")),
        sum(len(p) for p in out["train"].positives),
        sum(len(h) for h in out["train"].hidden),
    )
    return out
