"""What an offline W&B run carries, read from its folder, and a picture of it for the README.

``python -m zelo.analysis.wandb_files RUN_DIR OUT.png`` renders the summary run of a sweep (its
Laffer figure beside its results table) as the dashboard shows them once synced.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zelo.analysis.plots import figure_png
from zelo.utils.io import atomic_write_bytes

log = logging.getLogger(__name__)

TABLE_COLUMNS = ["label", "seed", "intelligence", "fn_rate", "val_ndcg10", "test_ndcg10"]


@dataclass
class RunMedia:
    """The media files of one run folder (``offline-run-*``), by logged key."""

    images: dict[str, list[Path]] = field(default_factory=dict)
    tables: dict[str, list[Path]] = field(default_factory=dict)


def run_media(run_dir: str | Path) -> RunMedia:
    """Images (``files/media/images/<key>_*.png``) and tables (``.table.json``) of a run."""
    media = Path(run_dir) / "files" / "media"
    found = RunMedia()
    for path in sorted((media / "images").glob("*.png")):
        found.images.setdefault(path.name.rsplit("_", 2)[0], []).append(path)
    for path in sorted((media / "table").glob("*.table.json")):
        found.tables.setdefault(path.name.rsplit("_", 2)[0], []).append(path)
    return found


def read_table(path: str | Path) -> pd.DataFrame:
    """A ``wandb.Table`` file (``{"columns": [...], "data": [[...], ...]}``) as a DataFrame."""
    table = json.loads(Path(path).read_text())
    return pd.DataFrame(table["data"], columns=table["columns"])


def render_summary_run(run_dir: str | Path, figure_key: str = "laffer", table_key: str = "results"):
    """The run's figure and the key columns of its results table, side by side."""
    import matplotlib.image as mpimg

    media = run_media(run_dir)
    if figure_key not in media.images or table_key not in media.tables:
        raise FileNotFoundError(
            f"{run_dir} carries no {figure_key!r} image and {table_key!r} table"
        )
    image = mpimg.imread(media.images[figure_key][-1])
    df = read_table(media.tables[table_key][-1])
    df = df[[c for c in TABLE_COLUMNS if c in df.columns]].round(3)
    fig = Figure(figsize=(16, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_img, ax_tab = fig.subplots(1, 2, width_ratios=[1.6, 1])
    ax_img.imshow(image)
    ax_img.set_title(f"media: {figure_key}", loc="left", fontsize=10)
    ax_tab.set_title(f"table: {table_key} ({len(df)} rows)", loc="left", fontsize=10)
    for ax in (ax_img, ax_tab):
        ax.axis("off")
    cells = df.astype(str).values.tolist()
    table = ax_tab.table(cellText=cells, colLabels=list(df.columns), loc="upper center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    fig.suptitle(f"W&B run {Path(run_dir).name}", fontsize=11)
    return fig


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m zelo.analysis.wandb_files")
    parser.add_argument("run_dir", help="an offline-run-* folder of a sweep's summary run")
    parser.add_argument("out", help="the PNG to write")
    args = parser.parse_args(argv)
    try:
        fig = render_summary_run(args.run_dir)
    except FileNotFoundError as err:
        log.error("%s", err)
        return 2
    atomic_write_bytes(args.out, figure_png(fig, dpi=110))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
