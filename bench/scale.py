"""Search at scale: time, peak memory and recall of zelo's searchers on N x 384 embeddings.

Prints one JSON line per run (never asserted):

    python bench/scale.py --docs 1000000 --kind flat
    python bench/scale.py --docs 1000000 --kind ivf

Fields: ``docs``, ``kind``, ``seconds`` (median search time of ``--queries`` queries, top-``k``),
``build_seconds`` (index build or load), ``peak_rss_gib`` (the process's peak resident memory),
``embeddings_gib``, ``gemm_gflops`` (2048^3 fp32 matmuls for 2 s, measured in the same run before
and after every search), ``gemm_fraction`` (exact search's inner products per second over that rate;
for ``ivf``/``hnsw`` the same for the exact search run alongside), ``recall_at_100`` (against
exact search of the same queries), ``flat_seconds`` and ``speedup_vs_flat`` (``ivf``/``hnsw``:
exact search of the same queries in the same process, streamed from the file), score statistics
and the load average.

The embeddings are **synthetic** (encoding a million documents on a 2-core CPU takes days): unit
vectors from a hierarchical mixture (Zipf-sized topics, sub-topics, a shared direction and a
decaying spectrum like real sentence embeddings; 1 % exact duplicates, which tie), streamed to
``<dir>/synthetic-<N>x<D>.npy`` in chunks by a child process, so the measured process only searches.
``--source memory`` (default) loads the matrix as the embedding cache does (one copy in memory);
``--source file`` streams it from disk block by block. ``ivf``/``hnsw`` always add from the file
in blocks, and their index is cached beside it (a second run reads it: ``build_seconds`` drops).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

GIB = 1 << 30
CHUNK = 65536


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # Linux: KiB


def load_average() -> float:
    return os.getloadavg()[0]


class Mixture:
    """Synthetic embedding model: topics -> sub-topics -> documents, all seeded."""

    def __init__(self, dim: int, topics: int, subtopics: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.dim, self.g = dim, g
        basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
        self.scale = basis * (torch.arange(1, dim + 1).float() ** -0.5)  # decaying spectrum
        self.common = torch.nn.functional.normalize(torch.randn(dim, generator=g), dim=0)
        self.popularity = torch.arange(1, topics + 1).float() ** -1.1  # Zipf topic sizes
        topic = self._unit(torch.randn(topics, dim, generator=g))
        sub = topic.repeat_interleave(subtopics, 0) + 0.7 * self._noise(topics * subtopics)
        self.centres = self._unit(sub)
        self.subtopics = subtopics

    def _noise(self, n: int) -> torch.Tensor:
        return torch.nn.functional.normalize(
            torch.randn(n, self.dim, generator=self.g) @ self.scale.T, dim=1
        )

    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(x + 0.35 * self.common, dim=1)

    def sample(self, n: int, noise: float, duplicates: float = 0.0) -> torch.Tensor:
        """``[n, D]`` unit vectors around sub-topic centres; a share are exact duplicates."""
        topic = torch.multinomial(self.popularity, n, replacement=True, generator=self.g)
        sub = topic * self.subtopics + torch.randint(self.subtopics, (n,), generator=self.g)
        x = torch.nn.functional.normalize(self.centres[sub] + noise * self._noise(n), dim=1)
        dup = torch.rand(n, generator=self.g) < duplicates
        x[dup] = x[torch.randint(n, (int(dup.sum()),), generator=self.g)]
        return x


def prepare(path: Path, n: int, dim: int, queries: int, seed: int) -> None:
    """Stream ``n`` documents and ``queries`` queries to ``path`` and ``*.queries.npy``."""
    from zelo.retrieval.embeddings import NpyRowWriter

    model = Mixture(dim, topics=max(n // 500, 20), subtopics=16, seed=seed)
    writer = NpyRowWriter(path, n, dim)
    while writer.rows_done < n:
        writer.write(model.sample(min(CHUNK, n - writer.rows_done), noise=0.9, duplicates=0.01))
    writer.finish()
    np.save(path.with_suffix(".queries.npy"), model.sample(queries, noise=1.1).numpy())


def gemm_gflops(size: int = 2048, seconds: float = 2.0, device: str = "cpu") -> float:
    """fp32 ``[size, size] @ [size, size]`` products for about ``seconds``: mean GFLOP/s.

    A window rather than a best-of-few, so that on a shared machine the rate sees the same
    contention as the searches it is compared with.
    """
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    out = torch.empty(size, size, device=device)
    torch.mm(a, b, out=out)  # warm-up
    sync = torch.cuda.synchronize if device != "cpu" else lambda: None
    count, start = 0, time.perf_counter()
    sync()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        count += 1
        if count % 8 == 0:
            sync()
    sync()
    return 2 * size**3 * count / (time.perf_counter() - start) / 1e9


def timed_searches(searcher, queries: torch.Tensor, k: int, repeats: int):
    """Results of the last search, its times, and the GEMM rates measured around each one."""
    rates, times = [gemm_gflops()], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = searcher.search(queries, k)
        times.append(time.perf_counter() - start)
        rates.append(gemm_gflops())
    return result, times, rates


def exact_rate(n: int, queries: torch.Tensor, times: list[float], rates: list[float]) -> float:
    """Median over runs of (inner-product FLOP/s) / (mean GEMM rate around that run)."""
    flops = 2 * queries.shape[0] * n * queries.shape[1]
    return statistics.median(
        flops / t / 1e9 / ((rates[i] + rates[i + 1]) / 2) for i, t in enumerate(times)
    )


def run(args: argparse.Namespace) -> dict:
    from zelo.retrieval import build_searcher, searcher_for
    from zelo.retrieval.searcher import recall_at

    path = Path(args.dir) / f"synthetic-{args.docs}x{args.dim}.npy"
    queries = torch.from_numpy(np.load(path.with_suffix(".queries.npy")))[: args.queries]
    baseline = peak_rss_gib()
    out = {"docs": args.docs, "kind": args.kind, "source": args.source, "queries": len(queries)}
    start = time.perf_counter()
    if args.kind == "flat" and args.source == "memory":
        docs = torch.from_numpy(np.load(path))  # as the embedding cache loads it
        searcher = build_searcher(docs, "flat", use_gpu=False)
    else:
        params = {"nprobe": args.nprobe} if args.kind == "ivf" and args.nprobe else {}
        searcher = searcher_for(path, path.stem, args.kind, False, args.dir, **params)
    build = time.perf_counter() - start
    (scores, ids), times, rates = timed_searches(searcher, queries, args.k, args.repeats)
    out.update(seconds=statistics.median(times), build_seconds=build)
    if args.kind == "flat":
        out.update(gemm_fraction=exact_rate(args.docs, queries, times, rates), recall_at_100=1.0)
    else:
        flat = build_searcher(path, "flat", use_gpu=False)
        (_, exact), flat_times, flat_rates = timed_searches(flat, queries, args.k, 1)
        out.update(
            recall_at_100=recall_at(ids[:, :100], exact[:, :100]),
            index_recall_at_100=searcher.recall_at_100,
            flat_seconds=flat_times[0],
            speedup_vs_flat=flat_times[0] / out["seconds"],
            gemm_fraction=exact_rate(args.docs, queries, flat_times, flat_rates),
        )
        rates += flat_rates
    out.update(
        peak_rss_gib=peak_rss_gib(),
        baseline_rss_gib=baseline,
        embeddings_gib=args.docs * args.dim * 4 / GIB,
        gemm_gflops=statistics.median(rates),
        score_at_1=float(scores[:, 0].mean()),
        score_at_100=float(scores[:, min(99, args.k - 1)].mean()),
        torch_threads=torch.get_num_threads(),
        load_average=load_average(),
    )
    if args.kind == "ivf":
        out.update(nprobe=searcher.nprobe, nlist=int(searcher.index.nlist))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--kind", choices=("flat", "ivf", "hnsw"), default="flat")
    parser.add_argument("--source", choices=("memory", "file"), default="memory")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--nprobe", type=int, default=None, help="IVF (default: the searcher's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=os.environ.get("ZELO_BENCH_DIR", "outputs/bench/scale"))
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = Path(args.dir) / f"synthetic-{args.docs}x{args.dim}.npy"
    if args.prepare:
        prepare(path, args.docs, args.dim, max(args.queries, 1000), args.seed)
        return
    if not path.exists():  # a child process, so its memory does not count here
        subprocess.run([sys.executable, *sys.argv, "--prepare"], check=True)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
