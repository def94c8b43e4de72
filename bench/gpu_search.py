"""Exact search of 1M x 384 on one GPU: zelo's searcher, plain torch matmul + top-k, faiss-gpu.

PREPARED, NOT YET RUN: written on a machine without a GPU; ``bench/gpu_scale.sh`` runs it.

Prints one JSON line per method (never asserted): ``seconds`` (median of ``--repeats`` searches
of ``--queries`` queries, top-``k``, after one warm-up), ``gflops`` (inner products per second)
and ``gemm_fraction`` against an fp32 2048^3 matmul on the same GPU (TF32 off), measured in the
same run. ``zelo`` is ``build_searcher(..., use_gpu=True)`` (documents copied to the GPU once,
blocked GEMM + top-k, ties by lower id); ``torch_topk`` is one matmul + ``topk`` per block with
no tie order; ``faiss_gpu`` is ``GpuIndexFlatIP`` (needs the ``gpu`` extra). The embeddings are
the synthetic ones of ``bench/scale.py``.

Usage: python bench/gpu_search.py [--docs 1000000] [--queries 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from scale import gemm_gflops  # noqa: E402


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up (kernels, cuBLAS handles)
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def torch_topk(queries: torch.Tensor, docs: torch.Tensor, k: int, block: int = 262144):
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


def methods(docs_cpu: torch.Tensor, queries: torch.Tensor, k: int) -> dict:
    from zelo.retrieval import build_searcher

    docs = docs_cpu.cuda()
    zelo = build_searcher(docs_cpu, "flat", use_gpu=True)
    found = {
        "zelo": lambda: zelo.search(queries, k),
        "torch_topk": lambda: torch_topk(queries, docs, k),
    }
    try:
        import faiss

        if faiss.get_num_gpus() > 0:
            index = faiss.index_cpu_to_gpu(
                faiss.StandardGpuResources(), 0, faiss.IndexFlatIP(docs.shape[1])
            )
            index.add(docs_cpu.numpy())
            xq = queries.cpu().numpy()
            found["faiss_gpu"] = lambda: index.search(xq, k)
    except (ImportError, AttributeError):
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=os.environ.get("ZELO_BENCH_DIR", "outputs/bench/scale"))
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    path = Path(args.dir) / f"synthetic-{args.docs}x384.npy"
    if not path.exists():
        scale = Path(__file__).with_name("scale.py")
        cmd = [sys.executable, str(scale), "--docs", str(args.docs), "--dir", args.dir]
        subprocess.run([*cmd, "--queries", str(args.queries), "--prepare"], check=True)
    docs = torch.from_numpy(np.load(path))
    queries = torch.from_numpy(np.load(path.with_suffix(".queries.npy")))[: args.queries].cuda()
    flops = 2 * len(queries) * len(docs) * docs.shape[1]
    for name, fn in methods(docs, queries, args.k).items():
        rate = gemm_gflops(4096, 2.0, "cuda")
        seconds = statistics.median(timed(fn, args.repeats))
        line = {"method": name, "docs": len(docs), "queries": len(queries), "k": args.k,
                "seconds": seconds, "gflops": flops / seconds / 1e9, "gemm_gflops": rate,
                "gemm_fraction": flops / seconds / 1e9 / rate, "gpu": torch.cuda.get_device_name()}  # fmt: skip
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in line.items()}))


if __name__ == "__main__":
    main()
