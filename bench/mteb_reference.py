"""Zero-shot all-MiniLM-L6-v2 through zelo's evaluation against MTEB and sentence-transformers.

zelo side: ``load_beir`` (document = title + " " + text), ``TransformerEncoder("minilm")`` at max
length 256 for documents and queries (MTEB uses the model's ``max_seq_length``, 256, for both),
corpus and query embeddings through the on-disk cache (``cached_encode``), exact top-100 search
(``zelo.retrieval.build_searcher``) and ``evaluate_ranking``: the calls a training run's evaluation
makes. Reference side, computed in the same process from the raw BEIR files: sentence-transformers
``encode`` (normalised), cosine top-100, ``pytrec_eval`` ``ndcg_cut.10`` on the graded test
qrels. Both sides cache their embeddings, so a rerun only pays for the model loads.

MTEB figures: all-MiniLM-L6-v2 on the MTEB leaderboard, NFCorpus 31.43 and SciFact 64.51 nDCG@10.

Usage: python bench/mteb_reference.py [--datasets nfcorpus scifact] [--cache-dir DIR] [--no-st]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
CACHE_DIR = Path(os.environ.get("ZELO_CACHE_DIR", REPO / "outputs" / "cache")) / "embeddings"
MTEB = {"nfcorpus": 0.3143, "scifact": 0.6451}
MAX_LENGTH = 256
DEPTH = 100


def zelo_ndcg(name: str, cache_dir: Path) -> tuple[list[float], list[str], float]:
    """Per-query nDCG@10 of zero-shot MiniLM on the test split, query ids, wall seconds."""
    from zelo.data.beir import load_beir
    from zelo.data.splits import build_query_set
    from zelo.eval.metrics import evaluate_ranking
    from zelo.models.transformer import TransformerEncoder
    from zelo.retrieval import build_searcher
    from zelo.retrieval.cache import cached_encode

    start = time.perf_counter()
    collection = load_beir(DATA_DIR / name)
    qset = build_query_set(collection, collection.qrels["test"], keep_positives=None)
    encoder = TransformerEncoder("minilm", max_length=MAX_LENGTH)
    docs = cached_encode(encoder, collection.doc_texts, cache_dir, batch_size=64, progress=True)
    queries = cached_encode(encoder, qset.query_texts, cache_dir, batch_size=64, is_query=True)
    _, ids = build_searcher(docs).search(queries, DEPTH)
    per_query = evaluate_ranking(ids, qset.judgments)["ndcg@10"]
    return per_query, qset.query_ids, time.perf_counter() - start


def _read_jsonl(folder: Path, stem: str) -> list[dict]:
    path = folder / f"{stem}.jsonl"
    if not path.exists():
        with gzip.open(f"{path}.gz", "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text("utf-8").splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    return qrels


def _st_encode(model, texts: list[str], cache_dir: Path, tag: str):
    """sentence-transformers embeddings of ``texts``, cached as ``st-<key>.npy``."""
    import numpy as np
    import torch

    from zelo.retrieval.cache import cache_key

    path = cache_dir / f"st-{cache_key(tag, texts, False)}.npy"
    if path.exists():
        return torch.from_numpy(np.load(path))
    emb = model.encode(texts, batch_size=64, convert_to_tensor=True, normalize_embeddings=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb.cpu().numpy().astype(np.float32))
    return emb.cpu()


def st_ndcg(name: str, cache_dir: Path) -> tuple[dict[str, float], float]:
    """Per-query nDCG@10 from sentence-transformers + pytrec_eval (raw BEIR files), wall seconds."""
    import pytrec_eval
    import torch
    from sentence_transformers import SentenceTransformer

    from zelo.models.encoders import minilm_path

    start = time.perf_counter()
    folder = DATA_DIR / name
    corpus = _read_jsonl(folder, "corpus")
    queries = {q["_id"]: q["text"] for q in _read_jsonl(folder, "queries")}
    qrels = _read_qrels(folder / "qrels" / "test.tsv")
    qids = sorted(qrels)
    model = SentenceTransformer(minilm_path(), device="cpu")
    model.max_seq_length = MAX_LENGTH
    doc_texts = [f"{d.get('title', '')} {d['text']}".strip() for d in corpus]
    docs = _st_encode(model, doc_texts, cache_dir, f"st-minilm-{MAX_LENGTH}-docs")
    q = _st_encode(model, [queries[i] for i in qids], cache_dir, f"st-minilm-{MAX_LENGTH}-queries")
    top_scores, top_ids = torch.topk(q @ docs.T, k=DEPTH, dim=1)
    run = {
        qid: {corpus[d]["_id"]: float(s) for d, s in zip(ids.tolist(), sc.tolist(), strict=True)}
        for qid, ids, sc in zip(qids, top_ids, top_scores, strict=True)
    }
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return {qid: m["ndcg_cut_10"] for qid, m in per_query.items()}, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["nfcorpus", "scifact"])
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--no-st", action="store_true", help="skip the sentence-transformers side")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = []
    for name in args.datasets:
        zelo, qids, zelo_s = zelo_ndcg(name, args.cache_dir)
        row = {
            "dataset": name,
            "zelo": statistics.fmean(zelo),
            "zelo_s": zelo_s,
            "mteb": MTEB.get(name, float("nan")),
            "st": float("nan"),
            "st_s": float("nan"),
            "max_query_diff": float("nan"),
            "queries": len(qids),
        }
        if not args.no_st:
            st, row["st_s"] = st_ndcg(name, args.cache_dir)
            row["st"] = statistics.fmean(st.values())
            row["max_query_diff"] = max(abs(z - st[q]) for z, q in zip(zelo, qids, strict=True))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n{'dataset':<10} {'queries':>7} {'zelo':>7} {'MTEB':>7} {'ST+trec':>7} "
        f"{'max |dq|':>9} {'zelo s':>7} {'ST s':>7}"
    )
    for r in rows:
        print(
            f"{r['dataset']:<10} {r['queries']:>7} {r['zelo']:>7.4f} {r['mteb']:>7.4f} "
            f"{r['st']:>7.4f} {r['max_query_diff']:>9.2e} {r['zelo_s']:>7.1f} {r['st_s']:>7.1f}"
        )


if __name__ == "__main__":
    main()
