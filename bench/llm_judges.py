"""Real LLM judges on one small collection: their intelligence and seconds per judgment.

For each judge (the packaged GGUF models of ``conf/miner/scorer/judges/gguf_*.yaml``, built
from those files so the bench measures what the miner runs) and each mode, the first stage's
top-``candidates`` of every judged query are reranked:

* ``pointwise``: the log-odds of "Yes" over "No" per (query, document);
* ``pairwise``: zELO, comparisons on a ``degree``-regular random graph (each asked in both
  orders), Elo scores from a Bradley–Terry fit.

Each result is one JSON line: nDCG@10 of the reranked candidates and of the first stage's own
order of the same candidates (and of the candidates sorted by the judgments, a CONTROL ceiling),
AUC on hard pairs (a judged-relevant against an unjudged candidate of the same query, both in
the first stage's top-k) for the judge and the first stage, and the time per judgment (model
forward passes only, plus the model's load) with the machine's load average. Judgments are
cached (``<cache-dir>/judgments``): a rerun only computes what is missing, and its time figures
cover those alone.

Usage:
    python bench/llm_judges.py [--collection DIR] [--candidates 10] [--queries 0]
        [--pairwise-queries 4] [--degree 2] [--judges gguf_smollm2,gguf_qwen]
        [--modes pointwise,pairwise] [--cache-dir outputs/cache]

References:
    Pipitone et al., zELO, arXiv:2509.12541; Nogueira et al., arXiv:2003.06713.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from zelo.data.beir import load_beir
from zelo.data.splits import build_query_set
from zelo.eval.metrics import evaluate_ranking, mean_ndcg
from zelo.mining.scorers.candidates import sort_candidates
from zelo.mining.scorers.llm_ensemble import LLMEnsembleScorer
from zelo.schemas import register_configs
from zelo.types import MiningInput
from zelo.utils.tensors import grades_of

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))


def emit(record: dict) -> None:
    record["loadavg_1m"] = round(os.getloadavg()[0], 2)
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def hard_pair_auc(ids: torch.Tensor, scores: torch.Tensor, judgments: list[dict]) -> tuple:
    """Share of (relevant, non-relevant) candidate pairs of a query ranked right (ties count
    half), over all queries' pairs; and the number of pairs."""
    grades = grades_of(ids, judgments).nan_to_num(0.0)  # [Q, K]
    right, total = 0.0, 0
    for q in range(len(ids)):
        valid = ids[q] >= 0
        rel = scores[q][valid & (grades[q] > 0)]
        non = scores[q][valid & (grades[q] <= 0)]
        if len(rel) and len(non):
            diff = rel[:, None] - non[None, :]
            right += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
            total += diff.numel()
    return (right / total if total else float("nan")), total


def per_query_ndcg(ids: torch.Tensor, judgments: list[dict]) -> torch.Tensor:
    return evaluate_ranking(ids, judgments)["ndcg@10"]


def subset(inp: MiningInput, n: int) -> MiningInput:
    keep = slice(0, n or None)
    return MiningInput(
        inp.query_texts[keep], inp.doc_texts, inp.positives[keep], 1, judgments=inp.judgments[keep]
    )


def judged_queries(collection_dir: Path, split: str) -> MiningInput:
    """Every judged query of ``split``; no labelled positives (nothing is added to the pools)."""
    collection = load_beir(collection_dir)
    qs = build_query_set(collection, collection.qrels[split])
    return MiningInput(
        qs.query_texts,
        collection.doc_texts,
        [[] for _ in qs.query_texts],
        1,
        judgments=qs.judgments,
    )


def compose_scorer(judges: str, cache_dir: str):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "miner=topk",
                "miner/scorer=llm_pointwise",
                f"miner/scorer/judges={judges}",
                f"paths.cache_dir={cache_dir}",
            ],
        )
    return instantiate(cfg.miner.scorer)


def measure(label: str, mode: str, scorer, judge, inp: MiningInput, k: int, extra: dict) -> None:
    first_ids, first_scores = scorer.first_stage.rank(inp, k)  # [Q, k]
    stats0 = dict(judge.stats)
    start = time.perf_counter()
    ids, scores = scorer.rank(inp, k)
    wall = time.perf_counter() - start
    computed = judge.stats["computed"] - stats0["computed"]
    forward_s = judge.stats["forward_s"] - stats0["forward_s"]
    grades = grades_of(first_ids, inp.judgments).nan_to_num(0.0)
    ceiling, _ = sort_candidates(first_ids, grades, k)
    auc, pairs = hard_pair_auc(ids, scores, inp.judgments)
    auc0, _ = hard_pair_auc(first_ids, first_scores, inp.judgments)
    per_prompt = forward_s / computed if computed else float("nan")
    gain = per_query_ndcg(ids, inp.judgments) - per_query_ndcg(first_ids, inp.judgments)  # [Q]
    se = float(gain.std() / len(gain) ** 0.5) if len(gain) > 1 else float("nan")
    emit(
        {
            "judge": label,
            "mode": mode,
            "queries": len(inp.query_texts),
            "candidates": k,
            "ndcg@10": round(mean_ndcg(ids, inp.judgments), 4),
            "first_stage_ndcg@10": round(mean_ndcg(first_ids, inp.judgments), 4),
            "ndcg@10_gain_over_first_stage": round(float(gain.mean()), 4),
            "gain_se_paired_over_queries": round(se, 4),
            "control_sorted_by_judgments_ndcg@10": round(mean_ndcg(ceiling, inp.judgments), 4),
            "auc_hard_pairs": round(auc, 4),
            "first_stage_auc_hard_pairs": round(auc0, 4),
            "hard_pairs": pairs,
            "prompts_computed": computed,
            "prompts_cached": judge.stats["judgments"] - stats0["judgments"] - computed,
            "s_per_prompt": round(per_prompt, 3),
            "s_per_judgment": round(per_prompt * (2 if mode == "pairwise" else 1), 3),
            "wall_s": round(wall, 1),
            "load_s": round(judge.load_s, 1),
            **extra,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default=str(DATA / "med"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--queries", type=int, default=0, help="pointwise: first N; 0 = all")
    parser.add_argument("--pairwise-queries", type=int, default=4, help="0 = all")
    parser.add_argument("--degree", type=int, default=2)
    parser.add_argument("--judges", default="gguf_smollm2,gguf_qwen")
    parser.add_argument("--modes", default="pointwise,pairwise")
    parser.add_argument("--cache-dir", default=str(REPO / "outputs" / "cache"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    register_configs()
    torch.manual_seed(0)
    full = judged_queries(Path(args.collection), args.split)
    emit({"collection": args.collection, "split": args.split, "queries": len(full.query_texts)})
    scorers = [compose_scorer(option, args.cache_dir) for option in args.judges.split(",")]
    for mode in args.modes.split(","):  # every judge's pointwise figure first: it is cheaper
        for pointwise in scorers:
            (label, judge), *_ = pointwise.judges.items()
            extra = {"doc_tokens": judge.doc_tokens, "device": str(judge.device)}
            if mode == "pointwise":
                pointwise.candidates = args.candidates
                inp = subset(full, args.queries)
                measure(label, mode, pointwise, judge, inp, args.candidates, extra)
            else:
                pairwise = LLMEnsembleScorer(
                    {label: judge}, pointwise.first_stage, args.candidates, degree=args.degree
                )
                inp = subset(full, args.pairwise_queries)
                measure(label, mode, pairwise, judge, inp, args.candidates, extra)


if __name__ == "__main__":
    main()
