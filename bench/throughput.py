"""zelo against sentence-transformers on one machine: encoding, mining and training throughput.

Each measurement runs both sides in the same process, interleaved (zelo, ST, zelo, ST, ...), on
NFCorpus with all-MiniLM-L6-v2 in fp32, and prints one JSON line (never asserted) with each
side's figure and ``ratio`` = zelo time / ST time (below 1: zelo is faster):

- ``encode``: ``--encode-docs`` documents at max length 256, batch 64: zelo
  ``TransformerEncoder.encode`` against ST ``SentenceTransformer.encode`` (normalised); docs/s.
- ``mine``: top-k hard negatives (N = 5) for ``--queries`` train queries over a
  ``--corpus-docs`` document slice of the corpus (the queries' positives included), with the
  embeddings already cached on disk by a first call of each side: zelo's top-k ``Miner`` with a
  fresh ``DenseScorer`` per call (cache read + search + rules) against ST
  ``mine_hard_negatives(use_faiss=True, cache_folder=...)`` at the same candidate depth; seconds.
- ``train``: ``--steps`` optimizer steps of batch ``--batch`` (query, positive, 3 negatives,
  max length 128, AdamW 3e-5), the first step left out as warm-up: zelo's Lightning module and
  DataModule (random negatives, InfoNCE at temperature 0.05) against ST's
  ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss`` (scale 20 = 1 / 0.05) on
  the same kind of rows; seconds per step and samples/s.

On a GPU (``--device cuda --bf16``, as ``bench/gpu_run.sh`` runs it) both sides run under
bf16 autocast and ``train`` also reports the GPU's mean utilisation during each side's steps
(``nvidia-smi`` sampled every 100 ms; ``null`` without it).

Each side's figure is printed (and appended to ``--jsonl``) as soon as it is measured, then the
ratio line. ``SentenceTransformerTrainer`` and ``mine_hard_negatives`` need the ``datasets``
package; where it is missing (``--st-train auto``), ST's side of ``train`` is its model and
``MultipleNegativesRankingLoss`` in a plain PyTorch loop (AdamW, gradient clipping at 1, the same
autocast): ST's training computation without its trainer, labelled ``st_runner: loop``.

Usage: python bench/throughput.py [--only encode,mine,train] [--repeats 2] [--device cuda --bf16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zelo.errors import require  # noqa: E402  (zelo importable: installed or on PYTHONPATH)

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("ZELO_DATA_DIR", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(Path(__file__).parent))


JSONL: str | None = None  # --jsonl: every line is appended here as soon as it is measured


def _rounded(v):
    if isinstance(v, float):
        return round(v, 5)
    return [_rounded(x) for x in v] if isinstance(v, list) else v


def write_line(line: dict) -> None:
    """Print one JSON line and append it to ``--jsonl`` at once (a later failure keeps it)."""
    text = json.dumps({k: _rounded(v) for k, v in line.items()})
    print(text, flush=True)
    if JSONL:
        with open(JSONL, "a") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def emit_side(name: str, side: str, runs: list[float], **extra) -> None:
    """One side's figure, written the moment it is measured."""
    line = {"bench": name, "side": side, "seconds": statistics.median(runs), "runs": runs}
    write_line({**line, **extra, "load_average": os.getloadavg()[0]})


def emit(name: str, zelo: list[float], st: list[float], **extra) -> None:
    """One JSON line: each side's median seconds, the ratio and the load average."""
    z, s = statistics.median(zelo), statistics.median(st)
    line = {"bench": name, "zelo_seconds": z, "st_seconds": s, "ratio": z / s, **extra}
    line["zelo_runs"], line["st_runs"] = zelo, st
    line["load_average"] = os.getloadavg()[0]
    write_line(line)


def nfcorpus():
    from zelo.data.beir import load_beir

    return load_beir(DATA_DIR / "nfcorpus")


def st_model(max_length: int, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    from zelo.models.encoders import minilm_path

    model = SentenceTransformer(minilm_path(), device=device)
    model.max_seq_length = max_length
    return model


def autocast(args):
    """bf16 autocast on ``args.device`` with ``--bf16``, else nothing."""
    import torch

    if not args.bf16:
        return contextlib.nullcontext()
    return torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16)


def timed(fn, args) -> float:
    import torch

    with autocast(args):
        start = time.perf_counter()
        fn()
        if args.device != "cpu":
            torch.cuda.synchronize()
    return time.perf_counter() - start


class GpuUtilisation:
    """Mean GPU utilisation (%) while the block runs, from ``nvidia-smi`` every 100 ms
    (``None`` where ``nvidia-smi`` is missing or reads nothing)."""

    def __enter__(self):
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        try:
            self._proc = subprocess.Popen(
                [*query, "-lms", "100"], stdout=subprocess.PIPE, text=True
            )
        except OSError:
            self._proc = None
        return self

    def __exit__(self, *exc) -> None:
        self.mean = None
        if self._proc is None:
            return
        self._proc.terminate()
        values = [float(x) for x in self._proc.communicate()[0].split() if x.strip().isdigit()]
        self.mean = statistics.mean(values) if values else None


def bench_encode(args) -> None:
    from zelo.models.transformer import TransformerEncoder

    texts = nfcorpus().doc_texts[: args.encode_docs]
    zelo = TransformerEncoder("minilm", max_length=256).to(args.device)
    st = st_model(256, args.device)
    runs: dict[str, list[float]] = {"zelo": [], "st": []}
    for _ in range(args.repeats):
        runs["zelo"].append(timed(lambda: zelo.encode(texts, batch_size=args.encode_batch), args))
        runs["st"].append(
            timed(
                lambda: st.encode(texts, batch_size=args.encode_batch, normalize_embeddings=True),
                args,
            )
        )
    for side, times in runs.items():
        emit_side(
            "encode", side, times, docs=len(texts), docs_per_s=len(texts) / statistics.median(times)
        )
    a = zelo.encode(texts[:8])
    b = st.encode(texts[:8], normalize_embeddings=True, convert_to_tensor=True).float().cpu()
    agree = float((a * b).sum(1).min())
    docs_s = {k: len(texts) / statistics.median(v) for k, v in runs.items()}
    emit("encode", runs["zelo"], runs["st"], docs=len(texts), batch=args.encode_batch,
         zelo_docs_per_s=docs_s["zelo"], st_docs_per_s=docs_s["st"], min_cosine_zelo_st=agree,
         device=args.device, bf16=args.bf16)  # fmt: skip


def mining_problem(args):
    """Train queries, positives and a corpus slice (first docs plus every positive)."""
    from st_agreement import dedup, load

    qtexts, positives, docs = load(args.queries)
    qtexts, positives, docs = dedup(qtexts, positives, docs)
    keep = sorted(set(range(min(args.corpus_docs, len(docs)))) | {d for p in positives for d in p})
    new = {d: i for i, d in enumerate(keep)}
    return qtexts, [[new[d] for d in p] for p in positives], [docs[d] for d in keep]


def bench_mine(args) -> None:
    from sentence_transformers.util import mine_hard_negatives
    from st_agreement import st_depth

    from zelo.mining.base import Miner
    from zelo.mining.scorers.dense import DenseScorer
    from zelo.models.transformer import TransformerEncoder
    from zelo.types import MiningInput

    qtexts, positives, docs = mining_problem(args)
    n = 5
    depth = st_depth(qtexts, positives, n, {})
    rows = [(q, docs[d]) for q, pos in zip(qtexts, positives, strict=True) for d in pos]
    Dataset = require("datasets", "bench/throughput.py --only mine").Dataset
    data = Dataset.from_dict({"query": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    encoder, model = TransformerEncoder("minilm", max_length=256), st_model(256, args.device)
    inp = MiningInput(qtexts, docs, positives, n)
    with tempfile.TemporaryDirectory() as tmp:

        def zelo() -> None:
            Miner(DenseScorer(encoder, cache_dir=f"{tmp}/zelo"), depth=depth).mine(inp)

        def st() -> None:
            mine_hard_negatives(
                data, model, corpus=docs, num_negatives=n, sampling_strategy="top",
                output_format="labeled-pair", use_faiss=True, batch_size=64, verbose=False,
                cache_folder=f"{tmp}/st",
            )  # fmt: skip

        zelo(), st()  # fill both caches
        runs: dict[str, list[float]] = {"zelo": [], "st": []}
        for _ in range(args.repeats):
            runs["zelo"].append(timed(zelo, args))
            runs["st"].append(timed(st, args))
    emit("mine", runs["zelo"], runs["st"], queries=len(qtexts), docs=len(docs), depth=depth)


class StepTimes:
    """Wall time of each optimizer step, from either trainer's callbacks."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def begin(self, *args, **kwargs) -> None:
        self._start = time.perf_counter()

    def end(self, *args, **kwargs) -> None:
        self.times.append(time.perf_counter() - self._start)


def zelo_train_steps(args) -> list[float]:
    import lightning.pytorch as pl
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from zelo.callbacks.run_state import EpochMining
    from zelo.pipeline import build
    from zelo.schemas import register_configs

    register_configs()
    overrides = [
        "dataset=nfcorpus", "model=minilm", "model.encoder.query_max_length=128", "miner=random",
        f"data.batch_size={args.batch}", "data.num_negatives=3", f"paths.data_dir={DATA_DIR}",
        "~reference",  # the hardness yardstick encodes the corpus: no part of a train step
    ]  # fmt: skip
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = tempfile.mkdtemp()
    built = build(cfg)
    module, datamodule = built.module, built.datamodule
    timer = StepTimes()
    callback = type("Timer", (pl.Callback,), {})()
    callback.on_train_batch_start, callback.on_train_batch_end = timer.begin, timer.end
    gpu = args.device != "cpu"
    trainer = pl.Trainer(
        accelerator="gpu" if gpu else "cpu", devices=1, max_steps=args.steps,
        precision="bf16-mixed" if args.bf16 else "32-true", limit_val_batches=0, num_sanity_val_steps=0,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[EpochMining.of(datamodule), callback],
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    return timer.times[1:]


def st_train_steps(args) -> list[float]:
    import random

    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, losses
    from sentence_transformers.training_args import SentenceTransformerTrainingArguments
    from transformers import TrainerCallback

    qtexts, positives, docs = mining_problem(args)
    rng = random.Random(0)
    rows = {"anchor": qtexts, "positive": [docs[p[0]] for p in positives]}
    for j in range(3):
        rows[f"negative_{j}"] = [docs[rng.randrange(len(docs))] for _ in qtexts]
    model = st_model(128, args.device)
    timer = StepTimes()
    callback = type(
        "Timer", (TrainerCallback,), {"on_step_begin": timer.begin, "on_step_end": timer.end}
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=SentenceTransformerTrainingArguments(
            output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch,
            max_steps=args.steps, learning_rate=3e-5, weight_decay=0.01, save_strategy="no",
            report_to=[], use_cpu=args.device == "cpu", bf16=args.bf16,
            dataloader_drop_last=True, seed=0,
            disable_tqdm=True, logging_steps=10_000,
        ),
        train_dataset=Dataset.from_dict(rows),
        loss=losses.MultipleNegativesRankingLoss(model, scale=20.0),
        callbacks=[callback()],
    )  # fmt: skip
    trainer.train()
    return timer.times[1:]


def _on(features: dict, device: str) -> dict:
    """A tokenizer's output on ``device`` (tensors moved, anything else kept)."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def st_loop_steps(args) -> list[float]:
    """ST's model and ``MultipleNegativesRankingLoss`` (scale 20) in a plain PyTorch loop: AdamW
    3e-5, gradient clipping at 1, rows (query, positive, 3 random negatives) as in
    :func:`st_train_steps`; each step's batch is tokenised before its timer starts."""
    import random

    import torch
    from sentence_transformers import losses

    qtexts, positives, docs = mining_problem(args)
    rng = random.Random(0)
    model = st_model(128, args.device)
    loss = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    model.train()
    times = []
    for _ in range(args.steps):
        rows = [rng.randrange(len(qtexts)) for _ in range(args.batch)]
        columns = [[qtexts[r] for r in rows], [docs[positives[r][0]] for r in rows]]
        columns += [[docs[rng.randrange(len(docs))] for _ in rows] for _ in range(3)]
        features = [_on(model.tokenize(c), args.device) for c in columns]
        labels = torch.zeros(args.batch, device=args.device)  # unused by this loss

        def step(features=features, labels=labels) -> None:
            value = loss(features, labels)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        times.append(timed(step, args))
    return times[1:]


def st_runner(args) -> str:
    """``trainer`` (SentenceTransformerTrainer) or ``loop`` (:func:`st_loop_steps`)."""
    if args.st_train != "auto":
        return args.st_train
    try:
        import datasets  # noqa: F401
    except ImportError:
        return "loop"
    return "trainer"


def bench_train(args) -> None:
    runner = st_runner(args)
    st_run = st_train_steps if runner == "trainer" else st_loop_steps
    zelo, st, util = [], [], {"zelo": [], "st": []}
    for _ in range(args.repeats):
        for name, steps, run in (("zelo", zelo, zelo_train_steps), ("st", st, st_run)):
            with GpuUtilisation() if args.device != "cpu" else contextlib.nullcontext() as gpu:
                times = run(args)
            steps += times
            if gpu is not None:
                util[name].append(gpu.mean)
            used = {"gpu_utilisation": gpu.mean} if gpu is not None else {}
            emit_side("train", name, times, batch=args.batch, samples_per_s=args.batch / statistics.median(times),
                      runner="lightning" if name == "zelo" else runner, device=args.device, **used)  # fmt: skip
    per_s = {k: args.batch / statistics.median(v) for k, v in (("zelo", zelo), ("st", st))}
    extra = {
        f"{k}_gpu_utilisation": statistics.mean(x for x in v if x is not None)
        for k, v in util.items()
        if any(x is not None for x in v)
    }
    emit("train", zelo, st, batch=args.batch, negatives=3, zelo_samples_per_s=per_s["zelo"],
         st_samples_per_s=per_s["st"], st_runner=runner, device=args.device, bf16=args.bf16,
         **extra)  # fmt: skip


BENCHES = {"encode": bench_encode, "mine": bench_mine, "train": bench_train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="encode,mine,train")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--encode-docs", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--corpus-docs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    parser.add_argument("--encode-batch", type=int, default=64)
    parser.add_argument("--st-train", default="auto", choices=("auto", "trainer", "loop"))
    parser.add_argument("--jsonl", default=None, help="append each JSON line to this file")
    args = parser.parse_args()
    global JSONL
    JSONL = args.jsonl
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_MODE", "offline")
    for name in args.only.split(","):
        BENCHES[name](args)


if __name__ == "__main__":
    main()
