"""Quiet, single console lines: no doubled Lightning lines, no import noise, no adverts."""

from __future__ import annotations

import logging
import os
import sys
import warnings

# loggers that print through their own handler as well as the root's
OWN_HANDLER_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
# INFO chatter: faiss tries AVX512 and AVX2 builds and logs each ModuleNotFoundError; bm25s logs
# its index building at DEBUG; Optuna's sweeper plugin announces its study, storage and sampler,
# and alembic (imported by Optuna) each of its plugins
QUIET_LOGGERS = (
    "faiss.loader", "bm25s", "hydra_plugins.hydra_optuna_sweeper", "optuna", "alembic",
)  # fmt: skip
ADVERT_PREFIXES = ("💡 Tip",)
# Hugging Face libraries draw a bar per weight load, model save and dataset write; zelo logs what
# it does in lines instead (a bar in a log file is one line per redraw)
HF_BARS_ENV = ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")
HF_BAR_SWITCHES = (
    ("huggingface_hub.utils", "disable_progress_bars"),
    ("transformers.utils.logging", "disable_progress_bar"),
    ("datasets.utils.tqdm", "disable_progress_bars"),
)


class DropAdverts(logging.Filter):
    """Drops log records that advertise other products."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(ADVERT_PREFIXES)


def quiet_logs() -> None:
    """Each console line once: when the root logger prints (Hydra configured it), Lightning's own
    handlers go and its records reach the console (and the job's log file) through the root."""
    if logging.getLogger().handlers:
        for name in OWN_HANDLER_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler:
                    logger.removeHandler(handler)
            logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in HF_BARS_ENV:  # read by the libraries not imported yet
        os.environ.setdefault(name, "1")
    for module, switch in HF_BAR_SWITCHES:  # and switched off in those already imported
        if module in sys.modules:
            getattr(sys.modules[module], switch)()
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, DropAdverts) for f in rank_zero.filters):
        rank_zero.addFilter(DropAdverts())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def quiet_optuna(argv: list[str]) -> None:
    """Optuna prints "A new study created" through its own handler, which it sets to INFO when
    first imported (after :func:`quiet_logs`); a command that will run an Optuna sweep imports it
    now and sets it to warnings."""
    if not any(a.startswith("hparams_search=") or "sweeper=optuna" in a for a in argv[1:]):
        return
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
