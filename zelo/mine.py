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
    from zelo.cli import discard_run_dir, hydra_run_dir
    from zelo.run.logs import quiet_logs
    from zelo.st.export import mine_to_dataset

    quiet_logs()
    try:
        mine_to_dataset(cfg)
    except (ZeloError, InstantiationException, ValueError, OSError) as err:  # one line
        cause = zelo_cause(err)
        if cause is None and isinstance(err, OSError):
            raise
        message = str(cause) if cause is not None else " ".join(str(err).split())
        log.error("%s", message)
        discard_run_dir(hydra_run_dir())  # it holds nothing but this line
        sys.exit(cause.exit_code if cause is not None else 2)


def run() -> None:
    """The console script."""
    from zelo.cli import print_version
    from zelo.run.logs import quiet_logs

    if print_version(sys.argv, "zelo-mine"):
        return
    quiet_logs()  # before Hydra starts: a sweeper's plugins log at its start
    register_configs()
    main()


if __name__ == "__main__":
    run()
