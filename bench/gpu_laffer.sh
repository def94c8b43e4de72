#!/usr/bin/env bash
# The Laffer instrument with the MiniLM student on a GPU: the hardness dial at four points, raw and
# FN-free twin (miner.drop_judged=true, a CONTROL), 1 seed, on NFCorpus and SciFact.
# Sized for about 8 minutes of one GPU (16 jobs; NFCorpus 2,590 and SciFact 809 train queries,
# 1 epoch each). Run from the repository root, offline; writes under $OUT (default /tmp/zelo-gpu).
# Expects what bench/gpu_check.sh expects (zelo importable, ZELO_DATA_DIR, the MiniLM package).
set -uo pipefail
OUT=${OUT:-/tmp/zelo-gpu}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
POINTS=${POINTS:-0,0.33,0.67,1}
for dataset in ${DATASETS:-nfcorpus scifact}; do
  start=$(date +%s)
  timeout "${SWEEP_TIMEOUT:-240}" python3 train.py -m experiment=laffer_dial dataset="$dataset" \
    model=minilm trainer=gpu logger=csv seed=0 trainer.max_epochs="${EPOCHS:-1}" \
    miner.scorer.intelligence="$POINTS" miner.drop_judged=false,true \
    hydra.sweep.dir="$OUT/laffer_dial-$dataset" paths.cache_dir="$OUT/cache" \
    hydra.callbacks.laffer.wandb=false 2>&1 | grep -E "zelo\.|HYDRA|Error" | grep -v "it/s" \
    > "$OUT/laffer_dial-$dataset.log"
  echo "$dataset: $(( $(date +%s) - start )) s" | tee -a "$OUT/timing.txt"
  python3 -m zelo.analysis "$OUT/laffer_dial-$dataset" --no-wandb 2>&1 | tail -12
done
