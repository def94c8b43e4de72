"""Metric keys and file names: their one home. Every metric key zelo writes or reads is a constant
here or comes from one of the key families below (``eval_key``, ``train_key``, ``mining_key``,
``dropped_key``, ``quantile_key``); ``tests/test_keys.py`` checks that no key literal lives
elsewhere and that every key the analysis, the notebook and the README read is written.

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
SPLITS = ("val", "test")
EVAL_METRICS = ("ndcg@10", "recall@100", "mrr@10", "ndcg@10_binary", "ndcg@10_top")
DEV_NDCG = "val/ndcg@10"  # what an adaptive miner is told; never a test metric
TEST_NDCG = "test/ndcg@10"
ZERO_SHOT = "_before"  # suffix of the metrics of the untrained student

# training
TRAIN_LOSS = "train/loss"
TRAIN_LOSS_STEP = "train/loss_step"
TRAIN_LOSS_EPOCH = "train/loss_epoch"

# run identity in metrics.json
RUN_ADAPTIVE = "run/adaptive"  # the miner's hardness moves between passes
RUN_CONTROL = "run/control"  # the run reads the full judgments: a control or an upper bound
# the seeds of the data: the generated collection's (None for a loaded one) and the drawn splits'
RUN_COLLECTION_SEED = "run/collection_seed"
RUN_SPLIT_SEED = "run/split_seed"


# every other metric key, by prefix (a key written or read anywhere lives here)
# fn/
FN_PREFIX = "fn/"
FN_EPOCH = "fn/epoch"
FN_INBATCH_RATE = "fn/inbatch_rate"
FN_STUDENT_ABOVE_POS = "fn/student_above_pos"
FN_STUDENT_ABOVE_POS_FN = "fn/student_above_pos_fn"
FN_STUDENT_ABOVE_POS_TN = "fn/student_above_pos_tn"
FN_STUDENT_MARGIN = "fn/student_margin"
FN_STUDENT_MARGIN_MEAN = "fn/student_margin_mean"
FN_TEACHER_IS_MINER = "fn/teacher_is_miner"
FN_TEACHER_MARGIN = "fn/teacher_margin"
# miner/
MINER_PREFIX = "miner/"
MINER_NDCG_FIRST = "miner/ndcg@10_first"  # the first pass's (an adaptive miner's start)
# mining/
MINING_PREFIX = "mining/"
MINING_FN_HARDNESS = "mining/fn_hardness"
FN_RATE_FIRST = "mining/fn_rate_first"
# a precomputed miner's source (the zelo-mine folder it reads): that miner's figures
MINING_SOURCE_NDCG = "mining/source_ndcg@10"
MINING_SOURCE_FN_RATE = "mining/source_fn_rate"
MINING_FN_PER_QUERY = "mining/fn_per_query"
MINING_NEG_SCORE_MEAN = "mining/neg_score_mean"
MINING_NUM_NEGATIVES = "mining/num_negatives"
MINING_NUM_SHORT = "mining/num_short"
MINING_PASSES = "mining/passes"
MINING_POS_SCORE_MEAN = "mining/pos_score_mean"
MINING_TN_HARDNESS = "mining/tn_hardness"
MINING_TN_SCORE_MEAN = "mining/tn_score_mean"
# run/
RUN_DATASET = "run/dataset"
RUN_FN_TEACHER = "run/fn_teacher"
RUN_KEEP_POSITIVES = "run/keep_positives"
RUN_LOSS = "run/loss"
RUN_MINER = "run/miner"
RUN_MODEL = "run/model"
RUN_SEED = "run/seed"
RUN_SPLIT = "run/split"
RUN_TEACHER = "run/teacher"
# test/
TEST_PREFIX = "test/"
TEST_MRR_AT_10 = "test/mrr@10"
TEST_NDCG_AT_10_BEFORE = "test/ndcg@10_before"
TEST_NDCG_AT_10_BINARY = "test/ndcg@10_binary"
TEST_NDCG_AT_10_TOP = "test/ndcg@10_top"
TEST_RECALL_AT_100 = "test/recall@100"
# time/
TIME_FIT_S = "time/fit_s"
TIME_TOTAL_S = "time/total_s"
# train/
TRAIN_PREFIX = "train/"
# trainer/
TRAINER_EPOCHS = "trainer/epochs"
TRAINER_GLOBAL_STEP = "trainer/global_step"
# val/
VAL_PREFIX = "val/"

# the metric keys of metrics.json's run/<group> (the option chosen) entries, by config group
RUN_CHOICES = {"miner": RUN_MINER, "model": RUN_MODEL, "loss": RUN_LOSS, "dataset": RUN_DATASET}

# key families: each writes a key from a name only known at run time; FAMILIES gives the keys each
# can write (for tests/test_keys.py)
QUANTILES = (10, 50, 90)


def eval_key(split: str, metric: str, suffix: str = "") -> str:
    """``val/ndcg@10``, ``test/mrr@10_before``: an evaluation metric of ``split``."""
    return f"{split}/{metric}{suffix}"


def train_key(stat: str) -> str:
    """``train/<stat>``: a figure the loss reports for each step (``temperature``, ``acc``)."""
    return f"{TRAIN_PREFIX}{stat}"


def mining_key(figure: str) -> str:
    """``mining/<figure>``: a figure the miner or its scorer reports for a pass."""
    return f"{MINING_PREFIX}{figure}"


def miner_ndcg_key(k: int = 10) -> str:
    """``miner/ndcg@<k>``: the miner's intelligence at another cut-off than 10."""
    return f"{MINER_PREFIX}ndcg@{k}"


def dropped_key(rule: str) -> str:
    """``mining/dropped_<rule>``: candidates a miner's rule dropped in a pass."""
    return f"{MINING_PREFIX}dropped_{rule}"


def quantile_key(name: str, q: int) -> str:
    """``fn/teacher_margin_p50``: the ``q``-th percentile of a logged distribution."""
    return f"{name}_p{q}"


FAMILIES = {
    "eval_key": rf"({'|'.join(SPLITS)})/({'|'.join(EVAL_METRICS)})({ZERO_SHOT})?",
    "train_key": rf"{TRAIN_PREFIX}\w+",
    "mining_key": rf"{MINING_PREFIX}[\w@.]+",
    "dropped_key": rf"{MINING_PREFIX}dropped_\w+",
    "miner_ndcg_key": rf"{MINER_PREFIX}ndcg@\d+",
    "quantile_key": rf"fn/\w+_p({'|'.join(map(str, QUANTILES))})",
}


def dev_metric(metrics: dict) -> float | None:
    """The dev nDCG@10 in a trainer's ``callback_metrics``: after an epoch, else zero-shot."""
    for key in (DEV_NDCG, f"{DEV_NDCG}{ZERO_SHOT}"):
        if key in metrics:
            return float(metrics[key])
    return None
