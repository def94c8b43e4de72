"""``zelo-analyse SWEEP_DIR [--no-wandb]`` (or ``python -m zelo.analysis``): write results.csv,
laffer.png and laffer.json into the sweep folder."""

from __future__ import annotations

import argparse
import logging
import sys

from zelo.analysis.report import write_outputs

log = logging.getLogger("zelo.analysis")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="zelo-analyse",
        description="Analyse a sweep folder: results table, Laffer-curve fit, figures.",
    )
    parser.add_argument("sweep_dir", help="the Hydra sweep folder (hydra.sweep.dir)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log the summary run to W&B")
    parser.add_argument(
        "--n-boot",
        type=int,
        default=1000,
        help="bootstrap resamples for the optimum's CI (default: 1000)",
    )
    parser.add_argument(
        "--project",
        default=None,
        help="W&B project (default: the jobs' logger.wandb.project, else zelo)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the analysis; return the exit status (2 when the folder does not exist)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        report = write_outputs(
            args.sweep_dir, use_wandb=not args.no_wandb, n_boot=args.n_boot, project=args.project
        )
    except FileNotFoundError as err:
        log.error("%s", err)
        return 2
    if not report["fits"]:
        log.warning("no finished job in %s yet", args.sweep_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
