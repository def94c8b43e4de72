"""zelo's mining rules against sentence-transformers' ``mine_hard_negatives`` on NFCorpus train.

Both sides score with all-MiniLM-L6-v2 (max length 256) over the full corpus (3,633 documents,
so encoding dominates the cold times) and take the top N kept candidates per query:

    naive top-k        Miner, no rule             (no filter)
    shifted by 10      shift_mask(shift=10)       range_min=10
    TopK-MarginPos     margin_pos_mask(0.05)      absolute_margin=0.05
    TopK-PercPos       perc_pos_mask(0.95)        relative_margin=0.05

sentence-transformers gets one (query, positive) row per labelled positive; it merges the rows
of one query text, excludes all of that query's positives and compares against the minimum
positive score, as zelo's ``pos_reduce="min"`` does. It also deduplicates the corpus by text
(NFCorpus has 40 groups of identical documents) and merges queries with the same text. By
default zelo gets that same deduplicated problem, so that only the rules differ; ``--raw``
gives zelo the collection as loaded (then a document with a twin can come back twice, or as
the twin of a positive). zelo mines at sentence-transformers' own candidate depth
(``range_max + max_positives``) so that neither side runs out of candidates earlier; the
"depth 100" lines repeat the comparison at the YAML default.

Usage: python bench/st_agreement.py [--max-queries 300] [--num-negatives 5] [--raw]

References:
    NV-Retriever, arXiv:2407.15831, Sec. 3; sentence-transformers ``util.mine_hard_negatives``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
TIE = 1e-5  # two scorers' cosines of the same pair differ by ~1e-7; closer calls may flip
RULES = {  # name -> (zelo rule function path or None, its kwargs, sentence-transformers kwargs)
    "topk": (None, {}, {}),
    "shifted10": ("zelo.mining.rules.shifted.shift_mask", {"shift": 10}, {"range_min": 10}),
    "marginpos0.05": (
        "zelo.mining.rules.margin_pos.margin_pos_mask",
        {"margin": 0.05},
        {"absolute_margin": 0.05},
    ),
    "percpos0.95": (
        "zelo.mining.rules.perc_pos.perc_pos_mask",
        {"percentage": 0.95},
        {"relative_margin": 0.05},
    ),
}


def load(max_queries: int | None) -> tuple[list[str], list[list[int]], list[str]]:
    """NFCorpus train query texts, their positives (every judged document) and the corpus."""
    from zelo.data.beir import load_beir
    from zelo.data.splits import build_query_set

    collection = load_beir(DATA_DIR / "nfcorpus")
    qset = build_query_set(collection, collection.qrels["train"], keep_positives=None)
    n = len(qset) if max_queries is None else min(max_queries, len(qset))
    return qset.query_texts[:n], qset.positives[:n], collection.doc_texts


def dedup(query_texts, positives, doc_texts) -> tuple[list[str], list[list[int]], list[str]]:
    """The problem as sentence-transformers sees it: unique doc texts, queries merged by text."""
    canon: dict[str, int] = {}
    remap = [canon.setdefault(t, len(canon)) for t in doc_texts]
    merged: dict[str, list[int]] = {}
    for text, pos in zip(query_texts, positives, strict=True):
        row = merged.setdefault(text, [])
        row.extend(d for d in dict.fromkeys(remap[p] for p in pos) if d not in row)
    return list(merged), list(merged.values()), list(canon)


def st_depth(query_texts: list[str], positives: list[list[int]], n: int, st_kw: dict) -> int:
    """The candidate depth sentence-transformers searches: ``range_max + max_positives``.

    Its ``max_positives`` counts the dataset's (query, positive) rows of the most frequent query
    text, so ``query_texts`` and ``positives`` are the rows it is given (before deduplication).
    """
    rows: Counter = Counter()
    for text, pos in zip(query_texts, positives, strict=True):
        rows[text] += len(pos)
    max_pos = max(rows.values())
    spread = 10 * n if ("absolute_margin" in st_kw or "relative_margin" in st_kw) else n
    return st_kw.get("range_min", 0) + spread + 2 * max_pos


def run_zelo(inp, cache_dir: str, depths: dict[str, int]) -> tuple[dict, list[float]]:
    """``{rule: MinedNegatives}`` and each rule's wall time (the first includes model load)."""
    from functools import partial

    from hydra.utils import get_object

    from zelo.mining.base import Miner
    from zelo.mining.scorers.dense import DenseScorer
    from zelo.models.transformer import TransformerEncoder

    start = time.perf_counter()
    scorer = DenseScorer(TransformerEncoder("minilm", max_length=256), cache_dir=cache_dir)
    out, times = {}, []
    for rule, (target, kw, _) in RULES.items():
        rules = {} if target is None else {rule: partial(get_object(target), **kw)}
        miner = Miner(scorer, rules, depth=depths[rule])
        out[rule] = miner.mine(inp)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
    return out, times


def run_st(query_texts, positives, doc_texts, n: int, cache: str) -> tuple[dict, list[float]]:
    """Negatives ``{rule: {query text: Counter(doc text)}}`` and the wall time of each call."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    from zelo.models.encoders import minilm_path

    start = time.perf_counter()
    model = SentenceTransformer(minilm_path(), device="cpu")
    load_s = time.perf_counter() - start
    rows = [(q, doc_texts[d]) for q, pos in zip(query_texts, positives, strict=True) for d in pos]
    data = Dataset.from_dict({"query": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    out, times = {}, []
    for rule, (_, _, st_kw) in RULES.items():
        start = time.perf_counter()
        mined = mine_hard_negatives(
            data, model, corpus=doc_texts, num_negatives=n, sampling_strategy="top",
            output_format="labeled-pair", use_faiss=True, batch_size=64, verbose=False,
            cache_folder=cache, **st_kw,
        )  # fmt: skip
        times.append(time.perf_counter() - start + (load_s if not times else 0.0))
        negs: dict[str, Counter] = {}
        for q, d, label in zip(mined["query"], mined["positive"], mined["label"], strict=True):
            if label == 0:
                negs.setdefault(q, Counter())[d] += 1
        out[rule] = negs
    return out, times


def agreement(mined, query_texts, doc_texts, st_negs: dict[str, Counter]) -> tuple[int, int, list]:
    """Pairs agreeing (multiset, per query text), zelo's pair count, disagreeing query indices."""
    agree = total = 0
    bad = []
    for i, row in enumerate(mined.neg_ids.tolist()):
        ours = Counter(doc_texts[d] for d in row if d >= 0)
        theirs = st_negs.get(query_texts[i], Counter())
        hits = sum((ours & theirs).values())
        agree, total = agree + hits, total + ours.total()
        if hits != ours.total() or hits != theirs.total():
            bad.append(i)
    return agree, total, bad


def explain(bad: list[int], mined, query_texts, doc_texts, st_negs, rule: str) -> Counter:
    """Sort disagreeing queries by cause, first match wins."""
    qcount, dcount = Counter(query_texts), Counter(doc_texts)
    causes: Counter = Counter()
    for i in bad:
        row = [d for d in mined.neg_ids[i].tolist() if d >= 0]
        end = int((mined.ranking[i] == row[-1]).nonzero()[0, 0]) + 2 if row else 2
        window = mined.ranking[i][:end].tolist()  # candidates down to one past the last negative
        top = mined.ranking_scores[i][:end]
        if len(row) < st_negs.get(query_texts[i], Counter()).total():
            causes["zelo ran out of candidates at its depth"] += 1
        elif qcount[query_texts[i]] > 1:
            causes["query text shared with another query (merged by ST)"] += 1
        elif any(d >= 0 and dcount[doc_texts[d]] > 1 for d in window):
            causes["identical document texts (deduplicated by ST)"] += 1
        elif len(top) > 1 and float((top[:-1] - top[1:]).abs().min()) < TIE:
            causes[f"score near-tie (< {TIE:g}) down to the last negative"] += 1
        elif near_threshold(mined, i, rule):
            causes[f"a score within {TIE:g} of the rule's threshold"] += 1
        else:
            causes["unexplained"] += 1
    return causes


def near_threshold(mined, i: int, rule: str) -> bool:
    """Whether a candidate of query ``i`` sits within ``TIE`` of the margin/percentage threshold."""
    pos = mined.pos_scores[i][~mined.pos_scores[i].isnan()]
    if not len(pos) or rule.startswith(("topk", "shifted")):
        return False
    ref = float(pos.min())
    threshold = ref - 0.05 if rule.startswith("margin") else ref - abs(ref) * 0.05
    return bool(((mined.ranking_scores[i] - threshold).abs() < TIE).any())


def score_spread(mined, positives: list[list[int]]) -> str:
    """Median per-query std of the top-100 non-positive scores, and the SimANS a it suggests."""
    import torch

    stds = []
    for ids, scores, pos in zip(mined.ranking, mined.ranking_scores, positives, strict=True):
        keep = (ids >= 0) & ~torch.isin(ids, torch.tensor(pos, dtype=torch.long))
        stds.append(float(scores[keep][:100].std()))
    sigma = float(torch.tensor(stds).nanmedian())
    return f"median per-query std of top-100 scores {sigma:.3f} -> a = 1/(2 sigma^2) = " + (
        f"{1 / (2 * sigma**2):.0f}"
    )


def report(zelo_out, st_out, query_texts, doc_texts) -> None:
    for rule in RULES:
        agree, total, bad = agreement(zelo_out[rule], query_texts, doc_texts, st_out[rule])
        st_total = sum(c.total() for c in st_out[rule].values())
        causes = explain(bad, zelo_out[rule], query_texts, doc_texts, st_out[rule], rule)
        print(
            f"{rule:>14}: {agree}/{total} zelo pairs agree ({100 * agree / max(total, 1):.2f} %),"
            f" ST returned {st_total}; dropped {zelo_out[rule].dropped};"
            f" {len(bad)} queries differ: {dict(causes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-queries", type=int, default=None, help="default: all 2,590")
    parser.add_argument("--num-negatives", type=int, default=5)
    parser.add_argument("--raw", action="store_true", help="zelo mines the raw collection")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from zelo.types import MiningInput

    qtexts, positives, docs = load(args.max_queries)
    dq, dp, dd = dedup(qtexts, positives, docs)
    n = args.num_negatives
    print(
        f"NFCorpus train: {len(qtexts)} queries ({len(dq)} distinct texts), {len(docs)} docs"
        f" ({len(dd)} distinct texts), N = {n}; zelo mines the {'raw' if args.raw else 'deduplicated'}"
        " problem"
    )
    zq, zp, zd = (qtexts, positives, docs) if args.raw else (dq, dp, dd)
    inp = MiningInput(zq, zd, zp, n)
    depths = {rule: st_depth(qtexts, positives, n, st_kw) for rule, (_, _, st_kw) in RULES.items()}
    print(f"candidate depth per rule (ST's range_max + max_positives): {depths}")
    with tempfile.TemporaryDirectory() as tmp:
        st_out, st_times = run_st(qtexts, positives, docs, n, f"{tmp}/st")
        cold, t_cold = run_zelo(inp, f"{tmp}/zelo", depths)
        warm, t_warm = run_zelo(inp, f"{tmp}/zelo", depths)
        shallow, _ = run_zelo(inp, f"{tmp}/zelo", dict.fromkeys(RULES, 100))
    assert all(torch.equal(cold[r].neg_ids, warm[r].neg_ids) for r in RULES), "cache changed ids"
    print("wall time, 4 rules; first call = model load + encode (cold) or cache read (warm):")
    for name, t in (("ST", st_times), ("zelo cold", t_cold), ("zelo warm", t_warm)):
        print(
            f"  {name:>9}: {sum(t):7.1f} s (first {t[0]:.1f} s, then {', '.join(f'{x:.1f}' for x in t[1:])})"
        )
    report(cold, st_out, zq, zd)
    print("depth 100 (YAML default):")
    report(shallow, st_out, zq, zd)
    print("SimANS scale:", score_spread(cold["topk"], zp))


if __name__ == "__main__":
    main()
