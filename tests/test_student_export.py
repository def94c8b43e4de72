"""The saved ``student/`` folder is a plain sentence-transformers model that reproduces zelo.

A short static-student run on MED (binary judgments: sentence-transformers'
``InformationRetrievalEvaluator`` takes relevant-document sets, i.e. binary gains, so on graded
collections it would not compute trec_eval's nDCG). The folder is loaded in a subprocess that never
imports zelo; its embeddings must match the trained encoder's and its nDCG@10 on the run's test
split must match the run's ``test/ndcg@10``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from zelo import pipeline
from zelo.data.splits import resolve_splits

ST_SCRIPT = """
import json, sys
import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

model_dir, inp, out = sys.argv[1:]
data = json.load(open(inp))
model = SentenceTransformer(model_dir, device="cpu")
np.save(out + "/st_emb.npy", model.encode(data["texts"], batch_size=64, convert_to_numpy=True))
relevant = {q: set(d) for q, d in data["relevant"].items()}
evaluator = InformationRetrievalEvaluator(
    data["queries"], data["corpus"], relevant, ndcg_at_k=[10], mrr_at_k=[10],
    accuracy_at_k=[1], precision_recall_at_k=[100], map_at_k=[100], write_csv=False, name="t",
)
metrics = {k: float(v) for k, v in evaluator(model).items()}
zelo_modules = sorted(m for m in sys.modules if m == "zelo" or m.startswith("zelo."))
json.dump({"metrics": metrics, "zelo_modules": zelo_modules}, open(out + "/st_result.json", "w"))
"""


@pytest.mark.slow
def test_student_round_trip_through_sentence_transformers(
    make_cfg, tmp_path: Path, monkeypatch
) -> None:
    saved = {}

    def keep_encoder(encoder, path: Path) -> None:
        saved["encoder"] = encoder
        save_student(encoder, path)

    save_student = pipeline.save_student
    monkeypatch.setattr(pipeline, "save_student", keep_encoder)
    cfg = make_cfg("model=static", "dataset=med", "miner=random", "trainer.max_epochs=1")
    metrics = pipeline.train(cfg)
    assert (tmp_path / "student" / "modules.json").exists()

    collection = instantiate(cfg.dataset.source)
    test = resolve_splits(collection, **cfg.dataset.splits, seed=cfg.dataset.split_seed)["test"]
    queries = {q: collection.query_texts[collection.query_index[q]] for q in test}
    texts = list(queries.values()) + collection.doc_texts[:200]
    payload = {
        "queries": queries,
        "corpus": dict(zip(collection.doc_ids, collection.doc_texts, strict=True)),
        "relevant": {q: sorted(docs) for q, docs in test.items()},
        "texts": texts,
    }
    assert set().union(*(set(d.values()) for d in test.values())) == {1}  # binary judgments
    (tmp_path / "st_input.json").write_text(json.dumps(payload))
    proc = subprocess.run(
        [sys.executable, "-c", ST_SCRIPT, str(tmp_path / "student"), "st_input.json", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "st_result.json").read_text())
    assert result["zelo_modules"] == []

    ours = saved["encoder"].encode(texts)
    theirs = torch.from_numpy(np.load(tmp_path / "st_emb.npy"))
    cosine = torch.nn.functional.cosine_similarity(ours, theirs, dim=1)
    assert cosine.min().item() >= 0.9999, cosine.min().item()
    st_ndcg = result["metrics"]["t_cosine_ndcg@10"]
    assert abs(st_ndcg - metrics["test/ndcg@10"]) <= 0.002, (st_ndcg, metrics["test/ndcg@10"])
