"""Zero-shot all-MiniLM-L6-v2 (or mpnet) through zelo's evaluation against MTEB and sentence-transformers.

zelo side: ``load_beir`` (document = title + " " + text), ``TransformerEncoder("minilm")`` at max
length 256 for documents and queries (MTEB uses the model's ``max_seq_length``, 256, for both),
corpus and query embeddings through the on-disk cache (``cached_encode``), exact top-100 search
(``zelo.retrieval.build_searcher``) and ``evaluate_ranking``: the calls a training run's evaluation
makes. Reference side, computed in the same process from the raw BEIR files: sentence-transformers
``encode`` (normalised), cosine top-100, ``pytrec_eval`` ``ndcg_cut.10`` on the graded test
qrels. Both sides cache their embeddings, so a rerun only pays for the model loads.

MTEB figures: all-MiniLM-L6-v2 on the MTEB leaderboard, NFCorpus 31.43 and SciFact 64.51 nDCG@10;
all-mpnet-base-v2 (``--model mpnet``, packaged: `make models`; its own max length 384), NFCorpus
0.33289 and SciFact 0.6557 (MTEB results repository ``embeddings-benchmark/results``,
``results/sentence-transformers__all-mpnet-base-v2/84f2bcc00d77236f9e89c8a360a00fb1139bf47d/``).

Usage: python bench/mteb_reference.py [--model minilm|mpnet] [--datasets nfcorpus scifact]
       [--cache-dir DIR] [--no-st]
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
# model -> (max length for documents and queries, MTEB nDCG@10 per collection)
MODELS = {
    "minilm": (256, {"nfcorpus": 0.3143, "scifact": 0.6451}),
    "mpnet": (384, {"nfcorpus": 0.33289, "scifact": 0.6557}),
}
DEPTH = 100


def zelo_ndcg(
    name: str, cache_dir: Path, model: str = "minilm"
) -> tuple[list[float], list[str], float]:
    """Per-query nDCG@10 of the zero-shot model on the test split, query ids, wall seconds."""
    from zelo.data.beir import load_beir
    from zelo.data.splits import build_query_set
    from zelo.eval.metrics import evaluate_ranking
    from zelo.models.transformer import TransformerEncoder
    from zelo.retrieval import build_searcher
    from zelo.retrieval.cache import cached_encode

    start = time.perf_counter()
    collection = load_beir(DATA_DIR / name)
    qset = build_query_set(collection, collection.qrels["test"], keep_positives=None)
    encoder = TransformerEncoder(model, max_length=MODELS[model][0])
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


def st_ndcg(name: str, cache_dir: Path, model: str = "minilm") -> tuple[dict[str, float], float]:
    """Per-query nDCG@10 from sentence-transformers + pytrec_eval (raw BEIR files), wall seconds."""
    import pytrec_eval
    import torch
    from sentence_transformers import SentenceTransformer

    from zelo.models.encoders import resolve_model_path

    start = time.perf_counter()
    folder = DATA_DIR / name
    corpus = _read_jsonl(folder, "corpus")
    queries = {q["_id"]: q["text"] for q in _read_jsonl(folder, "queries")}
    qrels = _read_qrels(folder / "qrels" / "test.tsv")
    qids = sorted(qrels)
    length = MODELS[model][0]
    st = SentenceTransformer(resolve_model_path(model), device="cpu")
    st.max_seq_length = length
    doc_texts = [f"{d.get('title', '')} {d['text']}".strip() for d in corpus]
    docs = _st_encode(st, doc_texts, cache_dir, f"st-{model}-{length}-docs")
    q = _st_encode(st, [queries[i] for i in qids], cache_dir, f"st-{model}-{length}-queries")
    top_scores, top_ids = torch.topk(q @ docs.T, k=DEPTH, dim=1)
    run = {
        qid: {corpus[d]["_id"]: float(s) for d, s in zip(ids.tolist(), sc.tolist(), strict=True)}
        for qid, ids, sc in zip(qids, top_ids, top_scores, strict=True)
    }
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return {qid: m["ndcg_cut_10"] for qid, m in per_query.items()}, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="minilm")
    parser.add_argument("--datasets", nargs="+", default=["nfcorpus", "scifact"])
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--no-st", action="store_true", help="skip the sentence-transformers side")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = []
    for name in args.datasets:
        zelo, qids, zelo_s = zelo_ndcg(name, args.cache_dir, args.model)
        row = {
            "dataset": name,
            "zelo": statistics.fmean(zelo),
            "zelo_s": zelo_s,
            "model": args.model,
            "mteb": MODELS[args.model][1].get(name, float("nan")),
            "st": float("nan"),
            "st_s": float("nan"),
            "max_query_diff": float("nan"),
            "queries": len(qids),
        }
        if not args.no_st:
            st, row["st_s"] = st_ndcg(name, args.cache_dir, args.model)
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
