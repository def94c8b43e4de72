"""The miner ladder on one collection: each miner's intelligence and false-negative rate.

Every miner is built from its own ``conf/miner/<option>.yaml`` (the defaults a sweep uses) and
mines N negatives for the training queries (one labelled positive per query, the others hidden);
``zelo.eval.false_negatives.mining_stats`` then gives ``miner/ndcg@10`` (the scorer's own ranking
against the full judgments) and ``mining/fn_rate`` (share of mined negatives that the full
judgments call relevant). Corpus embeddings are cached under ``--cache-dir``.

Usage:
    python bench/miner_intelligence.py [--dataset synthetic | /path/to/beir/folder]
        [--num-negatives 3] [--max-queries 0] [--cache-dir outputs/cache]

References:
    Moreira et al., NV-Retriever, arXiv:2407.15831 (false negatives of hard-negative mining);
    Pipitone et al., zELO, arXiv:2509.12541.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from zelo.data.beir import load_beir
from zelo.data.splits import build_query_set, resolve_splits
from zelo.data.synthetic import generate_collection
from zelo.eval.false_negatives import mining_stats
from zelo.schemas import register_configs
from zelo.types import MiningInput

REPO = Path(__file__).resolve().parents[1]
LADDER = [  # (row label, miner option, overrides)
    ("random", "random", []),
    ("bm25", "bm25", []),
    ("topk-minilm", "topk", []),
    ("ensemble (bm25+minilm, rrf)", "ensemble", []),
    ("llm_ensemble (simulated judges)", "llm_ensemble", []),
    *[
        (f"oracle x={x:g}", "oracle", [f"miner.scorer.intelligence={x}"])
        for x in (0, 0.25, 0.5, 0.75, 1)
    ],
]


def training_input(dataset: str, num_negatives: int, max_queries: int) -> MiningInput:
    """The training queries of ``dataset`` with one labelled positive each, full judgments kept."""
    if dataset == "synthetic":
        collection = generate_collection()
    else:
        collection = load_beir(dataset)
    present = set(collection.qrels)
    splits = resolve_splits(
        collection,
        train="train" if "train" in present else None,
        dev="dev" if "dev" in present else None,
        test="test",
    )
    qs = build_query_set(collection, splits["train"], keep_positives=1)
    keep = [i for i, p in enumerate(qs.positives) if p][: max_queries or None]
    return MiningInput(
        query_texts=[qs.query_texts[i] for i in keep],
        doc_texts=collection.doc_texts,
        positives=[qs.positives[i] for i in keep],
        num_negatives=num_negatives,
        judgments=[qs.judgments[i] for i in keep],
    )


def build_miner(option: str, overrides: list[str], cache_dir: str):
    """Instantiate ``conf/miner/<option>.yaml`` as ``train.py`` would."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"miner={option}", f"paths.cache_dir={cache_dir}", *overrides]
        )
    return instantiate(cfg.miner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic", help="'synthetic' or a BEIR folder")
    parser.add_argument("--num-negatives", type=int, default=3)
    parser.add_argument("--max-queries", type=int, default=0, help="0: every training query")
    parser.add_argument("--cache-dir", default=str(REPO / "outputs" / "cache"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    register_configs()
    inp = training_input(args.dataset, args.num_negatives, args.max_queries)
    print(
        f"{args.dataset}: {len(inp.query_texts)} training queries, {len(inp.doc_texts)} docs, "
        f"N={args.num_negatives}"
    )
    print("| miner | miner/ndcg@10 | mining/fn_rate | seconds |")
    print("|---|---|---|---|")
    for label, option, overrides in LADDER:
        miner = build_miner(option, overrides, args.cache_dir)
        start = time.perf_counter()
        mined = miner.mine(inp)
        seconds = time.perf_counter() - start
        stats = mining_stats(mined, inp.judgments, inp.positives)
        print(
            f"| {label} | {stats['miner/ndcg@10']:.4f} | {stats['mining/fn_rate']:.4f} "
            f"| {seconds:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
