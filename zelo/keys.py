"""Metric keys and file names that more than one module reads or writes: their one home.

Metric keys follow ``split/name``. A run folder holds :data:`METRICS_FILE` (written last, atomically;
:data:`FAILED_FILE` instead when the run failed) and :data:`CONFIG_FILE`; a sweep folder gets :data:`RESULTS_FILE`, :data:`PLOT_FILE` and
:data:`REPORT_FILE` from the analysis.
"""

from __future__ import annotations

# files
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
COLLECTION_INFO_FILE = "collection_info.json"
RESULTS_FILE = "results.csv"
PLOT_FILE = "laffer.png"
REPORT_FILE = "laffer.json"
SURFACE_PLOT_FILE = "surface.png"  # when a sweep varies annotation.keep_positives
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
STUDENT_DIR = "student"
FAILED_FILE = "failed.json"  # a failed job's error, instead of METRICS_FILE
LOCK_FILE = ".lock"  # held while a process trains the job
RUN_ID_FILE = "wandb_run_id"  # the job's (or a sweep summary's) W&B run id

# the miner's intelligence and the false-negative rate of its negatives: the study's two axes
MINER_NDCG = "miner/ndcg@10"
FN_RATE = "mining/fn_rate"
DUP_OF_POSITIVE_RATE = "mining/dup_of_positive_rate"  # mined negatives duplicating a positive
# the false-negative estimate without judgments: share of negatives a teacher scores >= s+
FN_TEACHER_RATE = "fn/teacher_rate"

MINING_SECONDS = "mining/seconds"  # the miner's wall time for the pass
MINING_EPOCH = "mining/epoch"  # the epoch a pass was mined for

# evaluation
EVAL_METRICS = ("ndcg@10", "recall@100", "mrr@10", "ndcg@10_binary", "ndcg@10_top")
DEV_NDCG = "val/ndcg@10"  # what an adaptive miner is told; never a test metric
TEST_NDCG = "test/ndcg@10"
ZERO_SHOT = "_before"  # suffix of the metrics of the untrained student

# training
TRAIN_LOSS = "train/loss"

# run identity in metrics.json
RUN_ADAPTIVE = "run/adaptive"  # the miner's hardness moves between passes
RUN_CONTROL = "run/control"  # the run reads the full judgments: a control or an upper bound
# the seeds of the data: the generated collection's (None for a loaded one) and the drawn splits'
RUN_COLLECTION_SEED = "run/collection_seed"
RUN_SPLIT_SEED = "run/split_seed"


def dev_metric(metrics: dict) -> float | None:
    """The dev nDCG@10 in a trainer's ``callback_metrics``: after an epoch, else zero-shot."""
    for key in (DEV_NDCG, f"{DEV_NDCG}{ZERO_SHOT}"):
        if key in metrics:
            return float(metrics[key])
    return None
