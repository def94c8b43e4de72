"""``zelo-analyse SWEEP_DIR [--no-wandb]`` (or ``python -m zelo.analysis``): write results.csv,
laffer.png, laffer.json into a sweep; ``zelo-analyse --report DIR [DIR ...] [--out
docs/RESULTS.md]``: the results page of several sweeps."""

from __future__ import annotations

import argparse
import logging
import sys

from zelo.analysis.page import DEFAULT_PAGE, NotASweepError, write_page
from zelo.analysis.report import write_outputs

log = logging.getLogger("zelo.analysis")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="zelo-analyse",
        description="Analyse a sweep folder: results table, Laffer-curve fit, figures.",
    )
    parser.add_argument("sweep_dir", nargs="?", help="the Hydra sweep folder (hydra.sweep.dir)")
    parser.add_argument(
        "--report",
        nargs="+",
        metavar="DIR",
        help="write the results page of these sweep folders (they are only read)",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_PAGE),
        help=f"the results page --report writes (default: {DEFAULT_PAGE}); figures go beside it",
    )
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
    args = parser.parse_args(argv)
    if (args.sweep_dir is None) == (args.report is None):
        parser.error("give either SWEEP_DIR or --report DIR [DIR ...]")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the analysis or write the results page; return the exit status (2 when a folder does
    not exist or is not a sweep)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if args.report:
        try:
            write_page(args.report, args.out, n_boot=args.n_boot)
        except NotASweepError as err:
            log.error("%s; nothing written", err)
            return 2
        return 0
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
