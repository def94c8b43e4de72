#!/usr/bin/env bash
# The GPU run, on a node without network: one prepared bundle (`make bundle`), one command.
#
#   bash bench/gpu_run.sh [--preset full|tiny] [--out DIR] [--scratch DIR] [--bundle DIR]
#
# Needs only a Python whose environment has torch, transformers, sentence-transformers, lightning,
# torchmetrics, pandas, scipy and matplotlib (CUDA or not): the rest comes from the bundle,
# installed with `pip --no-index` into a folder under the scratch folder (a venv made from a
# venv would not see its parent's torch). Stages, each with its own time limit, each writing its
# figures as JSON lines to <out>/figures.jsonl the moment they are measured:
#   install     verify the bundle's sha256s, install its wheels, restore fp32 MiniLM (checked)
#   search      exact search at 1M x 384, zelo's torch searcher on the GPU and the CPU, GEMM fraction
#   throughput  MiniLM encode and train step in bf16, zelo against sentence-transformers, same
#               texts and batch, GPU utilisation while training
#   laffer      experiment=laffer_dial model=minilm trainer=gpu on NFCorpus: 4 dial points, raw
#               and FN-free twin (CONTROL), seed 0 then seed 1; the analysis after each seed
# The full preset fits 9 minutes of one H100 (budgets below, each stage's time in figures.jsonl);
# a stage that runs out of time is stopped and the next one still runs. --preset tiny (or
# ZELO_GPU_PRESET=tiny) runs every stage on the CPU at toy sizes. <out> receives at most 5 small
# files (figures.jsonl, run.log, results.csv, laffer.json, laffer.png); embeddings, caches, job
# folders and full logs stay in the scratch folder (default: a new folder under $TMPDIR).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PRESET=${ZELO_GPU_PRESET:-full}
OUT_DIR=${OUT:-$REPO/outputs/gpu_run}
BUNDLE=$REPO/bundle
SCRATCH=""
PY=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case $1 in
    --preset) PRESET=$2; shift 2 ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --scratch) SCRATCH=$2; shift 2 ;;
    --bundle) BUNDLE=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu_run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case $PRESET in
  full)  # seconds; the Laffer stage gets what the others leave of TOTAL, less the analysis
    TOTAL=${ZELO_GPU_TOTAL:-540}; T_INSTALL=90; T_SEARCH=75; T_THROUGHPUT=120; T_ANALYSIS=25
    SEARCH_ARGS="--docs 1000000 --queries 10000 --cpu-queries 1000"
    THROUGHPUT_ARGS="--device cuda --bf16 --encode-docs 3633 --encode-batch 128 --batch 64 --steps 30 --repeats 1"
    LAFFER_ARGS="dataset=nfcorpus model=minilm trainer=gpu"
    POINTS=${POINTS:-0,0.33,0.67,1} ;;
  tiny)  # the same stages on the CPU at toy sizes (the dry run of the tests)
    TOTAL=${ZELO_GPU_TOTAL:-1800}; T_INSTALL=300; T_SEARCH=180; T_THROUGHPUT=480; T_ANALYSIS=120
    SEARCH_ARGS="--docs 20000 --queries 200 --cpu-queries 100 --repeats 2 --gemm-seconds 0.5"
    THROUGHPUT_ARGS="--device cpu --encode-docs 16 --encode-batch 16 --batch 4 --steps 2 --repeats 1"
    LAFFER_ARGS="debug=tiny"
    POINTS=${POINTS:-0,1} ;;
  *) echo "gpu_run.sh: --preset must be full or tiny, got $PRESET" >&2; exit 2 ;;
esac
SEEDS=${SEEDS:-0 1}
EPOCHS=${EPOCHS:-1}

START=$(date +%s)
mkdir -p "$OUT_DIR" || exit 2
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -n "$SCRATCH" ] || SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/zelo-gpu-run.XXXXXX") || exit 2
mkdir -p "$SCRATCH/tmp" "$SCRATCH/logs" || exit 2
FIG=$OUT_DIR/figures.jsonl
LOG=$OUT_DIR/run.log
: >"$FIG"
: >"$LOG"
rm -f "$OUT_DIR/results.csv" "$OUT_DIR/laffer.json" "$OUT_DIR/laffer.png"  # an earlier run's

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg HF_HOME=$SCRATCH/hf TMPDIR=$SCRATCH/tmp
export ZELO_CACHE_DIR=$SCRATCH/cache ZELO_DATA_DIR=$BUNDLE/data ZELO_MINILM_PATH=$SCRATCH/minilm
export PYTHONPATH=$SCRATCH/site:$REPO${PYTHONPATH:+:$PYTHONPATH}
export PY REPO BUNDLE SCRATCH FIG

say() { echo "[gpu_run $(($(date +%s) - START)) s] $*" | tee -a "$LOG"; }
left() { echo $((TOTAL - ($(date +%s) - START))); }
line() { echo "$1" >>"$FIG"; }

# run NAME LIMIT CMD...: CMD under `timeout`, its full output in the scratch folder, the lines
# worth reading (zelo's log, errors, JSON) in run.log, and its time as a JSON line
run() {
  local name=$1 limit=$2 t0 rc
  shift 2
  if [ "$limit" -lt 5 ]; then
    say "$name: skipped, no time left"
    line "{\"stage\": \"$name\", \"skipped\": true}"
    return 124
  fi
  say "$name: start (limit ${limit} s)"
  t0=$(date +%s%N)
  if [ "$(type -t "$1")" = function ]; then  # a stage written as a function of this script
    timeout --kill-after=15 "$limit" bash -c "$(declare -f "$1"); $1" >"$SCRATCH/logs/$name.log" 2>&1
  else
    timeout --kill-after=15 "$limit" "$@" >"$SCRATCH/logs/$name.log" 2>&1
  fi
  rc=$?
  grep -aE '^\{|zelo\.|HYDRA|Error|error|Traceback|Killed' "$SCRATCH/logs/$name.log" \
    | grep -av 'it/s\]' | cut -c1-400 | tail -n 200 >>"$LOG"
  local ms=$((($(date +%s%N) - t0) / 1000000)) secs
  secs=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  line "{\"stage\": \"$name\", \"seconds\": $secs, \"limit\": $limit, \"exit\": $rc, \"timed_out\": $([ $rc -eq 124 ] || [ $rc -eq 137 ] && echo true || echo false)}"
  say "$name: exit $rc after ${secs%.*} s"
  return $rc
}

install() {
  "$PY" -m zelo.bundle verify "$BUNDLE" --source "$REPO" --jsonl "$FIG" || return $?
  "$PY" -m pip install --quiet --no-index --no-deps --no-compile --disable-pip-version-check \
    --target "$SCRATCH/site" "$BUNDLE"/wheels/*.whl || return $?
  "$PY" -m zelo.bundle restore "$BUNDLE" "$SCRATCH/minilm" --jsonl "$FIG" || return $?
  "$PY" - "$FIG" <<'PY'
import json, os, platform, shutil, subprocess, sys
import hydra, omegaconf, sentence_transformers, torch, transformers
import zelo.pipeline, zelo.retrieval  # everything the stages import
env = {"stage": "environment", "python": platform.python_version(), "torch": torch.__version__,
       "cuda": torch.version.cuda, "transformers": transformers.__version__,
       "sentence_transformers": sentence_transformers.__version__, "hydra": hydra.__version__,
       "cpus": os.cpu_count(), "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
if shutil.which("nvidia-smi"):
    q = "--query-gpu=name,memory.total,driver_version,clocks.max.sm"
    env["nvidia_smi"] = subprocess.run(["nvidia-smi", q, "--format=csv,noheader"],
                                       capture_output=True, text=True).stdout.strip()
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps(env) + "\n")
PY
}

# the sweep's analysis files into the returned folder (each small: a table, a report, a figure)
collect() {
  local sweep=$SCRATCH/laffer_dial
  if [ ! -f "$sweep/laffer.json" ]; then  # the sweep ran out of time before its own analysis
    timeout "$T_ANALYSIS" "$PY" -m zelo.analysis "$sweep" --no-wandb >>"$SCRATCH/logs/analysis.log" 2>&1
  fi
  for f in results.csv laffer.json laffer.png; do
    [ -f "$sweep/$f" ] && cp "$sweep/$f" "$OUT_DIR/$f"
  done
  "$PY" - "$sweep/laffer.json" "$FIG" "$1" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError) as err:
    report = {"error": str(err)}
keys = ("label", "intelligence", "fn_rate", "raw_mean", "raw_se", "twin_mean", "twin_se",
        "hardness_benefit", "hardness_benefit_se", "fn_damage", "fn_damage_se", "n_raw", "n_twin")
table = [{k: row.get(k) for k in keys} for row in report.get("fn_decomposition", [])]
line = {"bench": "laffer", "after_seeds": sys.argv[3], "jobs": report.get("n_jobs"),
        "failed": len(report.get("failed", {})), "pending": len(report.get("pending", [])),
        "table": table, **({"error": report["error"]} if "error" in report else {})}
with open(sys.argv[2], "a") as fh:
    fh.write(json.dumps(line) + "\n")
PY
}

laffer() {
  local done_seeds="" seed rc=0
  for seed in $SEEDS; do
    local budget=$(($(left) - T_ANALYSIS))
    rm -f "$SCRATCH/laffer_dial/laffer.json"  # written again by the sweep's analysis, or by collect
    # shellcheck disable=SC2086
    run "laffer_seed$seed" "$budget" "$PY" "$REPO/train.py" -m experiment=laffer_dial $LAFFER_ARGS \
      logger=csv seed="$seed" trainer.max_epochs="$EPOCHS" miner.scorer.intelligence="$POINTS" \
      miner.drop_judged=false,true hydra.sweep.dir="$SCRATCH/laffer_dial" \
      paths.log_dir="$SCRATCH/outputs" hydra.callbacks.laffer.wandb=false || rc=$?
    done_seeds="$done_seeds${done_seeds:+,}$seed"
    collect "$done_seeds"
  done
  return $rc
}

say "preset $PRESET, total budget ${TOTAL} s, returned folder $OUT_DIR, scratch $SCRATCH"
if [ ! -f "$BUNDLE/manifest.json" ]; then
  say "no bundle at $BUNDLE: build it first with 'make bundle' (python -m zelo.bundle)"
  exit 2
fi
run install "$T_INSTALL" install || { say "install failed: see run.log"; exit 1; }
if [ "$PRESET" = full ] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  say "no CUDA device: the full preset needs one (--preset tiny runs on the CPU)"
  exit 1
fi
# shellcheck disable=SC2086
run search "$T_SEARCH" "$PY" "$REPO/bench/gpu_search.py" $SEARCH_ARGS --jsonl "$FIG"
# shellcheck disable=SC2086
run throughput "$T_THROUGHPUT" "$PY" "$REPO/bench/throughput.py" --only encode,train \
  $THROUGHPUT_ARGS --jsonl "$FIG"
laffer
status=$?
line "{\"stage\": \"total\", \"seconds\": $(($(date +%s) - START)), \"budget\": $TOTAL}"
"$PY" - "$OUT_DIR" <<'PY'
import sys
from pathlib import Path
out = Path(sys.argv[1])
files = [p for p in out.rglob("*") if p.is_file()]
big = [f"{p.name} {p.stat().st_size} B" for p in files if p.stat().st_size > 16 * 2**20]
deep = [str(p) for p in files if len(p.relative_to(out).parts) > 3]
if len(files) > 8 or big or deep:
    sys.exit(f"returned folder breaks its limits: {len(files)} files, too big {big}, too deep {deep}")
PY
say "done (laffer exit $status); figures in $FIG; scratch $SCRATCH"
exit $status
