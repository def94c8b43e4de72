"""zelo's mining rules against sentence-transformers' ``mine_hard_negatives`` on NFCorpus train.

Both sides score with all-MiniLM-L6-v2 (max length 256) over the full corpus (3,633 documents,
so encoding dominates the cold times) and take the top N kept candidates per query:

    naive top-k        TopKMiner                  (no filter)
    shifted by 10      ShiftedMiner(shift=10)     range_min=10
    TopK-MarginPos     MarginPosMiner(0.05)       absolute_margin=0.05
    TopK-PercPos       PercPosMiner(0.95)         relative_margin=0.05

sentence-transformers gets one (query, positive) row per labelled positive; it merges the rows
of one query text, excludes all of that query's positives and compares against the minimum
positive score, as zelo's ``pos_reduce="min"`` does. zelo mines at sentence-transformers' own
candidate depth (``range_max + max_positives``) so that neither side runs out of candidates
earlier than the other; the line "depth 100" repeats the comparison at the YAML default.

Usage: python bench/st_agreement.py [--max-queries 300] [--num-negatives 5]

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
RULES = {  # name -> (zelo miner class path, zelo kwargs, sentence-transformers kwargs)
    "topk": ("zelo.mining.topk.TopKMiner", {}, {}),
    "shifted10": ("zelo.mining.shifted.ShiftedMiner", {"shift": 10}, {"range_min": 10}),
    "marginpos0.05": (
        "zelo.mining.margin_pos.MarginPosMiner",
        {"margin": 0.05},
        {"absolute_margin": 0.05},
    ),
    "percpos0.95": (
        "zelo.mining.perc_pos.PercPosMiner",
        {"percentage": 0.95},
        {"relative_margin": 0.05},
    ),
}


def load(max_queries: int | None):
    """NFCorpus train queries (all positives labelled) and the corpus as a MiningInput."""
    from zelo.data.beir import load_beir
    from zelo.data.splits import build_query_set

    collection = load_beir(DATA_DIR / "nfcorpus")
    qset = build_query_set(collection, collection.qrels["train"], keep_positives=None)
    n = len(qset) if max_queries is None else min(max_queries, len(qset))
    return collection, qset.query_texts[:n], qset.positives[:n]


def st_depth(query_texts: list[str], positives: list[list[int]], n: int, st_kw: dict) -> int:
    """The candidate depth sentence-transformers searches: ``range_max + max_positives``."""
    merged: dict[str, set[int]] = {}
    for text, pos in zip(query_texts, positives, strict=True):
        merged.setdefault(text, set()).update(pos)
    max_pos = max(len(p) for p in merged.values())
    spread = 10 * n if ("absolute_margin" in st_kw or "relative_margin" in st_kw) else n
    return st_kw.get("range_min", 0) + spread + 2 * max_pos


def run_zelo(inp, cache_dir: str, n: int, depth100: bool = False) -> tuple[dict, float]:
    """``{rule: MinedNegatives}`` of every rule and the wall time (model load included)."""
    from hydra.utils import get_class

    from zelo.mining.dense import DenseScorer
    from zelo.models.encoders import TransformerEncoder

    start = time.perf_counter()
    scorer = DenseScorer(TransformerEncoder("minilm", max_length=256), cache_dir=cache_dir)
    out = {}
    for rule, (target, kw, st_kw) in RULES.items():
        depth = 100 if depth100 else st_depth(inp.query_texts, inp.positives, n, st_kw)
        miner = get_class(target)(scorer, depth=depth, **kw)
        out[rule] = miner.mine(inp)
    return out, time.perf_counter() - start


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


def explain(bad: list[int], mined, query_texts, positives, doc_texts, st_negs) -> Counter:
    """Sort disagreeing queries by cause, first match wins."""
    qcount, dcount = Counter(query_texts), Counter(doc_texts)
    causes: Counter = Counter()
    for i in bad:
        row = [d for d in mined.neg_ids[i].tolist() if d >= 0]
        end = int((mined.ranking[i] == row[-1]).nonzero()[0, 0]) + 2 if row else 2
        top = mined.ranking_scores[i][:end]  # scores down to one past the last negative
        if len(row) < st_negs.get(query_texts[i], Counter()).total():
            causes["zelo ran out of candidates at its depth"] += 1
        elif qcount[query_texts[i]] > 1:
            causes["query text shared with another query (merged by ST)"] += 1
        elif any(dcount[doc_texts[d]] > 1 for d in row + list(positives[i])):
            causes["identical document texts (deduplicated by ST)"] += 1
        elif len(top) > 1 and float((top[:-1] - top[1:]).abs().min()) < 1e-5:
            causes["score near-tie (< 1e-5) down to the last negative"] += 1
        else:
            causes["unexplained"] += 1
    return causes


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


def report(zelo_out, st_out, query_texts, positives, doc_texts) -> None:
    for rule in RULES:
        agree, total, bad = agreement(zelo_out[rule], query_texts, doc_texts, st_out[rule])
        st_total = sum(c.total() for c in st_out[rule].values())
        causes = explain(bad, zelo_out[rule], query_texts, positives, doc_texts, st_out[rule])
        print(
            f"{rule:>14}: {agree}/{total} zelo pairs agree ({100 * agree / max(total, 1):.2f} %),"
            f" ST returned {st_total}; dropped {zelo_out[rule].dropped};"
            f" {len(bad)} queries differ: {dict(causes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-queries", type=int, default=None, help="default: all 2,590")
    parser.add_argument("--num-negatives", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from zelo.mining.base import MiningInput

    collection, qtexts, positives = load(args.max_queries)
    docs, n = collection.doc_texts, args.num_negatives
    inp = MiningInput(qtexts, docs, positives, n)
    print(f"NFCorpus train: {len(qtexts)} queries, {len(docs)} docs, N = {n}")
    with tempfile.TemporaryDirectory() as tmp:
        st_out, st_times = run_st(qtexts, positives, docs, n, f"{tmp}/st")
        cold, t_cold = run_zelo(inp, f"{tmp}/zelo", n)
        warm, t_warm = run_zelo(inp, f"{tmp}/zelo", n)
        shallow, _ = run_zelo(inp, f"{tmp}/zelo", n, depth100=True)
    assert all(torch.equal(cold[r].neg_ids, warm[r].neg_ids) for r in RULES), "cache changed ids"
    print(
        f"wall time, 4 rules (model load + encode + search + rules): ST {sum(st_times):.1f} s"
        f" (first call {st_times[0]:.1f} s, then {sum(st_times[1:]):.1f} s from its cache);"
        f" zelo cold {t_cold:.1f} s, warm {t_warm:.1f} s"
    )
    report(cold, st_out, qtexts, positives, docs)
    print("depth 100 (YAML default):")
    report(shallow, st_out, qtexts, positives, docs)
    print("SimANS scale:", score_spread(cold["topk"], positives))


if __name__ == "__main__":
    main()
