"""Quiet, single console lines: no doubled Lightning lines, no import noise, no adverts."""

from __future__ import annotations

import logging
import warnings

# loggers that print through their own handler as well as the root's
OWN_HANDLER_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
# INFO chatter: faiss tries AVX512 and AVX2 builds and logs each ModuleNotFoundError; bm25s logs
# its index building at DEBUG; Optuna's sweeper plugin announces its study, storage and sampler
QUIET_LOGGERS = ("faiss.loader", "bm25s", "hydra_plugins.hydra_optuna_sweeper", "optuna")
ADVERT_PREFIXES = ("💡 Tip",)


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
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, DropAdverts) for f in rank_zero.filters):
        rank_zero.addFilter(DropAdverts())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
