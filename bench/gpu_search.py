"""Exact search at N x 384: zelo's torch searcher on the GPU against the same on the CPU.

One JSON line per measurement, printed and appended to ``--jsonl`` as soon as it is measured
(never asserted):

- ``gemm``: each device's fp32 matmul rate (``bench/scale.py``'s ``gemm_gflops``; TF32 off);
- ``search``: zelo's exact searcher (``build_searcher(..., "flat")``: blocked GEMM + top-k, ties
  by the lower id) on one device: ``seconds`` (median of ``--repeats`` searches after one
  warm-up, results back on the CPU), ``queries_per_s``, ``gflops`` (inner products) and
  ``gemm_fraction`` (that over the device's GEMM rate, measured in the same run). The CPU
  searches ``--cpu-queries`` of the queries (the GPU all ``--queries``);
- ``torch_topk`` (GPU): one matmul + ``topk`` per block with no tie order: what the tie order
  and the pruning cost or save;
- ``agreement``: the share of the CPU's queries whose top-``k`` ids are identical on both
  devices (fp32 sums in another order can swap near-ties).

The embeddings are synthetic (``bench/scale.py``'s mixture: topics, sub-topics, a decaying
spectrum, 1 % exact duplicates, which tie), generated in memory: nothing is written to disk.

Usage: python bench/gpu_search.py [--docs 1000000] [--queries 10000] [--jsonl figures.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from scale import CHUNK, Mixture, gemm_gflops  # noqa: E402

from zelo.retrieval import build_searcher  # noqa: E402


def emit(line: dict, jsonl: str | None) -> None:
    """Print one JSON line and append it to ``jsonl`` at once (a later failure keeps it)."""
    text = json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in line.items()})
    print(text, flush=True)
    if jsonl:
        with open(jsonl, "a") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def embeddings(docs: int, queries: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``[docs, dim]`` and ``[queries, dim]`` unit vectors of one seeded mixture, in memory."""
    model = Mixture(dim, topics=max(docs // 500, 20), subtopics=16, seed=seed)
    out = torch.empty(docs, dim)
    for start in range(0, docs, CHUNK):
        n = min(CHUNK, docs - start)
        out[start : start + n] = model.sample(n, noise=0.9, duplicates=0.01)
    return out, model.sample(queries, noise=1.1)


def timed(fn, repeats: int, device: str) -> tuple[list[float], object]:
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    result = fn()  # warm-up: kernels, cuBLAS handles, the documents' copy to the GPU
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - start)
    return times, result


def torch_topk(queries: torch.Tensor, docs: torch.Tensor, k: int, block: int = 65536):
    """One matmul + ``topk`` per document block, merged by another ``topk`` (no tie order)."""
    best = None
    for start in range(0, len(docs), block):
        s, i = (queries @ docs[start : start + block].T).topk(k, dim=1)
        i = i + start
        if best is not None:
            s, pos = torch.cat([best[0], s], 1).topk(k, dim=1)
            i = torch.gather(torch.cat([best[1], i], 1), 1, pos)
        best = (s, i)
    return best


def search_line(device: str, docs: torch.Tensor, queries: torch.Tensor, args, rate: float):
    """Time zelo's exact searcher on ``device``; returns the JSON line and the last ids."""
    searcher = build_searcher(docs, "flat", use_gpu=device == "cuda")
    times, (_, ids) = timed(lambda: searcher.search(queries, args.k), args.repeats, device)
    seconds = statistics.median(times)
    gflops = 2 * len(queries) * len(docs) * docs.shape[1] / seconds / 1e9
    line = {"bench": "search", "method": "zelo_exact", "device": device, "docs": len(docs),
            "queries": len(queries), "k": args.k, "seconds": seconds, "runs": times,
            "queries_per_s": len(queries) / seconds, "gflops": gflops,
            "gemm_fraction": gflops / rate}  # fmt: skip
    return line, ids


def topk_line(docs: torch.Tensor, queries: torch.Tensor, args) -> dict:
    """Time plain matmul + ``topk`` on the GPU (the documents copied there first)."""
    on_gpu, q = docs.cuda(), queries.cuda()
    times, _ = timed(lambda: torch_topk(q, on_gpu, args.k), args.repeats, "cuda")
    seconds = statistics.median(times)
    return {"bench": "search", "method": "torch_topk", "device": "cuda", "docs": len(docs),
            "queries": len(q), "k": args.k, "seconds": seconds, "runs": times,
            "queries_per_s": len(q) / seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--cpu-queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gemm-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jsonl", default=None, help="append each JSON line to this file")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    start = time.perf_counter()
    docs, queries = embeddings(args.docs, args.queries, args.dim, args.seed)
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "load_average": os.getloadavg()[0], "generate_seconds": time.perf_counter() - start}  # fmt: skip
    devices = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    if "cuda" in devices:
        env["gpu"] = torch.cuda.get_device_name()
    emit({"bench": "search_setup", "docs": args.docs, "dim": args.dim, **env}, args.jsonl)
    ids = {}
    for device in devices:
        size = 4096 if device == "cuda" else 2048
        rate = gemm_gflops(size, args.gemm_seconds, device)
        emit({"bench": "gemm", "device": device, "size": size, "gflops": rate}, args.jsonl)
        n = args.queries if device == "cuda" else min(args.cpu_queries, args.queries)
        line, ids[device] = search_line(device, docs, queries[:n], args, rate)
        emit(line, args.jsonl)
        if device == "cuda":
            emit(topk_line(docs, queries, args), args.jsonl)
            torch.cuda.empty_cache()
    if len(ids) == 2:
        n = len(ids["cpu"])
        same = (ids["cuda"][:n] == ids["cpu"]).all(dim=1).float().mean().item()
        emit({"bench": "agreement", "queries": n, "identical_top_k": same}, args.jsonl)


if __name__ == "__main__":
    main()
