#!/usr/bin/env bash
# Scale checks on one CUDA GPU (issue: mining at a million documents), from the repository root.
# PREPARED, NOT YET RUN: written on a CPU-only machine; expect to fix small things on first use.
# About 5-8 minutes on one H100/H200-class GPU:
#   1. exact search of 1M x 384 (synthetic, bench/scale.py's generator), 10k queries, top-100:
#      zelo's GPU searcher vs plain torch matmul + topk vs faiss-gpu GpuIndexFlatIP (gpu extra);
#   2. MiniLM encode docs/s and training samples/s with bf16, zelo vs sentence-transformers on
#      the same GPU, and the GPU's utilisation during each side's training steps.
# Expects zelo installed with the dev extra (".[dev,gpu]" for faiss-gpu) and ZELO_DATA_DIR
# holding nfcorpus/. Writes JSON lines under $OUT (default /tmp/zelo-gpu-scale).
set -uo pipefail
OUT=${OUT:-/tmp/zelo-gpu-scale}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export ZELO_BENCH_DIR=${ZELO_BENCH_DIR:-$OUT/embeddings}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout 240 python3 bench/gpu_search.py --docs 1000000 --queries 10000 | tee "$OUT/search.jsonl"
timeout 300 python3 bench/throughput.py --device cuda --bf16 --only encode,train \
  --encode-docs 3633 --batch 64 --steps 20 --repeats 1 | tee "$OUT/throughput.jsonl"
