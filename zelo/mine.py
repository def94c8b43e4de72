"""``zelo-mine`` (or ``python -m zelo.mine``): mine hard negatives into a sentence-transformers
training dataset, e.g. ``zelo-mine dataset=scifact miner=percpos output_dir=DIR``."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from zelo.errors import ZeloError, zelo_cause
from zelo.schemas import CONF_DIR, register_configs

log = logging.getLogger("zelo.mine")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="mine")
def main(cfg: DictConfig) -> None:
    from zelo.st.export import mine_to_dataset

    try:
        mine_to_dataset(cfg)
    except (ZeloError, InstantiationException, ValueError, OSError) as err:  # one line
        cause = zelo_cause(err)
        if cause is None and isinstance(err, OSError):
            raise
        message = str(cause) if cause is not None else " ".join(str(err).split())
        log.error("%s", message)
        sys.exit(cause.exit_code if cause is not None else 2)


def run() -> None:
    """The console script."""
    register_configs()
    main()


if __name__ == "__main__":
    run()
