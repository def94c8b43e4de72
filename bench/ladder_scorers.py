"""The ladder's scorers measured on one collection: intelligence on the training queries (the
``miner/ndcg@10`` a laffer_real run logs) and zero-shot nDCG@10 / recall@100 on the test queries,
for BM25, MiniLM-L3 (ONNX), MiniLM-L6, mpnet and their fusions (RRF, z-score and min-max sums).
Also checks the packaged models: checksums, and that the ONNX MiniLM-L3's word-embedding table has
exactly the 30,522 rows of the uncased vocabulary it is tokenised with.

Scorers are built from their configs (``conf/miner/scorer/*.yaml``), so the embedding cache
entries are the runs' own (``bench/encode_corpora.py`` fills them first).

Usage: python bench/ladder_scorers.py --dataset cranfield [--fusions rrf zscore minmax]
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from zelo.schemas import CONF_DIR, register_configs

SCORERS = ["bm25", "minilm_l3", "minilm", "mpnet"]


def check_packages() -> None:
    """Checksums of the packaged models, and the ONNX vocabulary bound."""
    import onnxruntime as ort

    from zelo.models.encoders import minilm_path
    from zelo.models.packaged import PACKAGED, packaged_model_path

    for name in PACKAGED:
        start = time.perf_counter()
        path = packaged_model_path(name)
        print(f"{name}: sha256 verified ({time.perf_counter() - start:.1f} s) {path}")
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(minilm_path()).vocab_size
    session = ort.InferenceSession(str(packaged_model_path("minilm_l3")))
    mask = np.ones((1, 3), dtype=np.int64)
    ok = []
    for token in (vocab - 1, vocab):
        try:
            session.run(None, {"input_ids": np.array([[101, token, 102]]), "attention_mask": mask})
            ok.append(True)
        except Exception:  # onnxruntime: Gather index out of bounds
            ok.append(False)
    print(
        f"minilm_l3 ONNX word embeddings accept id {vocab - 1}: {ok[0]}, id {vocab}: {ok[1]} "
        f"(MiniLM-L6 uncased vocabulary: {vocab} ids) -> table size equal: {ok == [True, False]}"
    )


def compose_cfg(dataset: str, overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"dataset={dataset}", "annotation.keep_positives=1", *overrides],
            return_hydra_config=True,
        )
    HydraConfig().set_config(cfg)
    return cfg


def measure(scorer, inp, judgments, k: int = 100) -> tuple[float, float]:
    """nDCG@10 and recall@100 of the scorer's top-k ranking."""
    from zelo.eval.metrics import evaluate_ranking

    ids, _ = scorer.rank(inp, k)
    per_query = evaluate_ranking(ids, judgments)
    return float(per_query["ndcg@10"].float().mean()), float(per_query["recall@100"].float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cranfield")
    parser.add_argument("--fusions", nargs="+", default=["rrf", "zscore", "minmax"])
    parser.add_argument("--no-check", action="store_true", help="skip the package checks")
    parser.add_argument("--without", nargs="*", default=[], choices=SCORERS, help="leave out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    register_configs()
    if not args.no_check:
        check_packages()
    from zelo.mining.scorers.ensemble import EnsembleScorer
    from zelo.pipeline import build
    from zelo.types import MiningInput

    cfg = compose_cfg(args.dataset, ["model=static"])
    dm = build(cfg).datamodule
    sets = {s: dm.query_sets[s] for s in ("train", "test")}
    kept = [s for s in SCORERS if s not in args.without]
    print(
        f"\n{args.dataset}: train {len(sets['train'])} / test {len(sets['test'])} queries, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'scorer':<40} {'train nDCG@10 (x)':>18} {'test nDCG@10':>13} {'test R@100':>11}")
    singles = {
        s: instantiate(compose_cfg(args.dataset, [f"miner/scorer={s}"]).miner.scorer) for s in kept
    }
    fusion = compose_cfg(args.dataset, ["miner/scorer=fusion"]).miner.scorer  # rrf_k, candidates
    scorers = list(singles.items()) + [
        (
            f"fusion[{f}] of {'+'.join(singles)}",
            EnsembleScorer(singles, fusion=f, rrf_k=fusion.rrf_k, candidates=fusion.candidates),
        )
        for f in args.fusions
    ]
    for name, scorer in scorers:
        row = []
        for qs in sets.values():
            inp = MiningInput(
                qs.query_texts, dm.collection.doc_texts, qs.positives, 3, 0, judgments=qs.judgments
            )
            row.append(measure(scorer, inp, qs.judgments))
        print(f"{name:<40} {row[0][0]:>18.4f} {row[1][0]:>13.4f} {row[1][1]:>11.4f}", flush=True)


if __name__ == "__main__":
    main()
