"""Train all-MiniLM-L6-v2 with sentence-transformers' trainer on a ``zelo-mine`` output.

Prints the steps, the training loss, the fit's wall time per step and the machine load, so the
figure can be compared with ``MACHINE.md`` (MiniLM InfoNCE steps on this CPU).

Usage: python bench/st_train_from_mined.py MINED_DIR [--steps 4] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile

from zelo.models.encoders import minilm_path
from zelo.st.trainer import fit_mnrl, st_training_view

log = logging.getLogger("bench.st_train_from_mined")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser()
    parser.add_argument("mined_dir")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    view = st_training_view(args.mined_dir)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as out:
        result = fit_mnrl(minilm_path(), args.mined_dir, out, args.steps, args.batch_size)
    log.info("dataset: %d rows, columns %s", len(view), view.column_names)
    log.info(
        "MiniLM, MultipleNegativesRankingLoss, batch %d: %d steps, train loss %.4f, "
        "%.1f s (%.1f s/step); load average before %.2f, after %.2f",
        args.batch_size,
        result["steps"],
        result["train_loss"],
        result["seconds"],
        result["seconds"] / max(result["steps"], 1),
        load[0],
        os.getloadavg()[0],
    )


if __name__ == "__main__":
    main()
