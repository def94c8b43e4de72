"""docs/RESULTS.md generated from sweep folders: sections, command, figures, errors, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from zelo.analysis.__main__ import main
from zelo.analysis.page import (
    NotASweepError,
    build_page,
    reproduce_command,
    section_names,
    write_page,
)

MULTIRUN = """hydra:
  overrides:
    hydra:
    - hydra.mode=MULTIRUN
    task:
    - experiment=laffer_surface
    - dataset=synthetic
    - +tags=[a b]
  job:
    name: train
"""


@pytest.fixture
def sweeps(tmp_path: Path, make_dial_sweep) -> list[Path]:
    """Two sweeps sharing a folder name: a dial sweep and a completeness surface."""
    xs = (0.0, 0.5, 1.0)
    dial = make_dial_sweep(tmp_path / "laffer" / "synthetic", seeds=(0, 1), xs=xs)
    surface = tmp_path / "laffer_surface" / "synthetic"
    make_dial_sweep(surface, seeds=(0, 1), keeps=(1, None), twins=False, xs=xs)
    for root in (dial, surface):
        (root / "multirun.yaml").write_text(MULTIRUN)
    return [dial, surface]


def test_reproduce_command() -> None:
    import yaml

    config = yaml.safe_load(MULTIRUN)
    assert reproduce_command(config) == (
        "python train.py -m experiment=laffer_surface dataset=synthetic '+tags=[a b]'"
    )
    config["hydra"]["overrides"]["hydra"].append("hydra.sweep.dir=out/x")
    assert reproduce_command(config).endswith(" hydra.sweep.dir=out/x")
    moved = reproduce_command(config, "outputs/y")
    assert moved.endswith(" hydra.sweep.dir=outputs/y") and "out/x" not in moved


def test_a_folder_filled_by_two_launches_is_reproduced_whole(tmp_path: Path, make_job) -> None:
    import yaml

    from zelo.analysis.page import job_grid
    from zelo.analysis.results import collect_results

    write_job = make_job
    root = tmp_path / "sweep"
    for i, (seed, twin) in enumerate([(s, t) for s in (0, 1, 2, 10) for t in ("False", "True")]):
        over = ["experiment=laffer_left", f"miner.drop_judged={twin}", f"seed={seed}", "+tag=[a,b]"]
        write_job(root, f"{i}_job", over, ("dial", seed, 0.5, 0.1, 0.4) if seed < 10 else None)
    write_job(root, "only_here", ["experiment=laffer_left", "seed=1", "x=1"], None)
    refused = ["experiment=laffer_left", "miner.drop_judged=True", "seed=5", "+tag=[a,b]"]
    job = write_job(root, "refused", refused, ("dial", 5, 0.5, 0.1, 0.4))
    (job / "failed.json").write_text('{"error": "holds the finished run of another config"}')
    finished = collect_results(root)["job"]  # neither the unfinished nor the refused job
    grid = job_grid(root, finished)
    assert grid == {"miner.drop_judged": ["False", "True"], "seed": ["0", "1", "2"]}
    # multirun.yaml records the second launch only; its sweeper lists drop_judged in lower case
    config = yaml.safe_load(MULTIRUN.replace("experiment=laffer_surface", "experiment=laffer_left"))
    config["hydra"]["overrides"]["task"].append("seed=2")
    config["hydra"]["sweeper"] = {"params": {"miner.drop_judged": "false,true", "seed": "0,1"}}
    assert reproduce_command(config, grid=grid) == (
        "python train.py -m experiment=laffer_left dataset=synthetic '+tags=[a b]' seed=0,1,2"
    )
    config["hydra"]["overrides"]["task"][-1] = "seed=2,1,0"  # the launch's own spelling stays
    assert reproduce_command(config, grid=grid).endswith(" seed=2,1,0")
    config["hydra"]["sweeper"]["params"]["miner.drop_judged"] = "true"  # only twins launched
    assert reproduce_command(config, grid=grid).endswith(" seed=2,1,0 miner.drop_judged=False,True")


def test_section_names_resolve_clashes(tmp_path: Path) -> None:
    roots = [tmp_path / "laffer" / "synthetic", tmp_path / "laffer_losses" / "synthetic"]
    roots.append(tmp_path / "x" / "nf corpus")
    assert section_names(roots) == ["laffer-synthetic", "laffer_losses-synthetic", "nf-corpus"]
    assert section_names([tmp_path / "a", tmp_path / "a"]) == [f"{tmp_path.name}-a"] + [
        f"{tmp_path.name}-a-2"
    ]


def test_page_has_a_section_per_sweep_and_reruns_to_the_same_bytes(
    sweeps: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "docs" / "RESULTS.md"
    write_page(sweeps, out, n_boot=50)
    first = {p: p.read_bytes() for p in sorted(out.parent.rglob("*")) if p.is_file()}
    write_page(sweeps, out, n_boot=50)
    assert {p: p.read_bytes() for p in sorted(out.parent.rglob("*")) if p.is_file()} == first
    assert not (sweeps[0] / "laffer.json").exists()  # the sweeps are only read
    text = out.read_text()
    assert text.startswith("# Results\n") and "--n-boot 50" in text
    for name in ("laffer-synthetic", "laffer_surface-synthetic"):
        assert f"\n## {name}\n" in text and f"](#{name})" in text
        assert f"](results/{name}.png)" in text
        assert (out.parent / "results" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert text.count("python train.py -m experiment=laffer_surface dataset=synthetic") == 2
    dial, surface = text.split("\n## laffer_surface-synthetic\n")
    assert "### FN-free decomposition" in dial and "paired / paired" in dial
    assert "| dial(x=0.5) | CONTROL |" in dial.replace("| 3 |", "|").replace("| 2 |", "|")
    assert "adaptive_oracle" in dial and "UPPER BOUND" in dial
    assert "Interior maximum" in dial  # the verdict
    assert "### FN-free decomposition" not in surface  # no twins there
    assert (
        "### Annotation completeness" in surface
        and "results/laffer_surface-synthetic-surface.png" in surface
    )
    assert (out.parent / "results" / "laffer_surface-synthetic-surface.png").exists()
    assert "| labelled positives | optimum |" in surface and "| all |" in surface
    assert "(claim: the optimum moves to lower intelligence" in surface


def test_not_a_sweep_names_the_folder_and_writes_nothing(
    sweeps: list[Path], tmp_path: Path, caplog
) -> None:
    out = tmp_path / "docs" / "RESULTS.md"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["--report", str(sweeps[0]), str(plain), "--out", str(out)]) == 2
    assert f"{plain} is not a sweep folder: no multirun.yaml" in caplog.text
    assert not out.parent.exists()
    with pytest.raises(NotASweepError, match="no such folder"):
        build_page([tmp_path / "missing"], out)
    (plain / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(NotASweepError, match="cannot read hydra.overrides.task"):
        build_page([plain], out)
    (plain / "multirun.yaml").write_text(MULTIRUN)
    with pytest.raises(NotASweepError, match="no finished job"):
        build_page([plain], out)


def test_cli_needs_a_sweep_or_report() -> None:
    with pytest.raises(SystemExit):
        main([])


def test_tables_show_missing_values_as_dashes() -> None:
    from zelo.analysis.page_tables import decomposition_table, markdown_table, pm

    assert pm(0.41234, 0.0012) == "0.4123 ± 0.0012" and pm(0.4, float("nan")) == "0.4000 (1 seed)"
    assert pm(None, None) == "–"
    assert markdown_table(["a|b"], [["1"]]) == "| a\\|b |\n| --- |\n| 1 |"
    record = {
        "curve": "infonce", "label": "topk", "intelligence": 0.6, "fn_rate": 0.2,
        "tn_hardness": float("nan"), "twin_tn_hardness": None, "raw_mean": 0.4, "raw_se": 0.01,
        "twin_mean": 0.45, "twin_se": 0.01, "random_label": None, "random_mean": float("nan"),
        "random_se": float("nan"), "hardness_benefit": float("nan"),
        "hardness_benefit_se": float("nan"), "benefit_se_method": float("nan"),
        "fn_damage": -0.05, "fn_damage_se": 0.005, "damage_se_method": "paired",
    }  # fmt: skip
    row = decomposition_table([record]).splitlines()[-1]
    assert row == (
        "| topk | 0.600 | 0.200 | – / – | 0.4000 ± 0.0100 | 0.4500 ± 0.0100 | – | – | "
        "-0.0500 ± 0.0050 | – | – / paired / – |"
    )


def test_tables_number_points_per_curve_and_show_what_the_twin_lacks(tmp_path: Path, make_job):
    import json

    from zelo.analysis.page_tables import decomposition_table, points_table
    from zelo.analysis.report import analyse

    # a dial at x = 0 and 1 (raw and twin) at two completeness levels; at x = 1 the twin of
    # the sparse level runs 7 queries short, and the full level's twin repeats its raw run
    i = 0
    for keep, sparse in (("1", True), ("null", False)):
        for x, twin in ((0, False), (0, True), (1, False), (1, True)):
            for seed in (0, 1):
                y = 0.40 + 0.05 * x + 0.01 * seed + (0.02 if twin and sparse else 0.0)
                y += 0.001 * twin * (x == 0) * sparse + (0.003 if sparse else 0.0)
                metrics = {
                    "run/miner": "dial", "run/seed": seed, "run/loss": "infonce",
                    "run/dataset": "synthetic", "run/model": "static",
                    "run/collection_seed": seed, "run/keep_positives": None if keep == "null" else 1,
                    "run/control": "fn_free_twin+scorer:dial" if twin else "scorer:dial",
                    "miner/ndcg@10": x, "mining/fn_rate": 0.0 if twin else 0.3 * sparse,
                    "mining/num_short": 7.0 if (twin and sparse and x == 1) else 0.0,
                    "test/ndcg@10": y, "val/ndcg@10": y,
                }  # fmt: skip
                over = ["miner=dial", f"miner.scorer.intelligence={x}",
                        f"miner.drop_judged={str(twin).lower()}",
                        f"annotation.keep_positives={keep}", f"seed={seed}"]  # fmt: skip
                make_job(tmp_path, f"{i}_job", over, json.dumps(metrics))
                i += 1
    report = analyse(tmp_path, n_boot=20).report
    points = points_table(report).splitlines()
    assert "queries short" in points[0]
    numbers = [line.split("|")[1].strip() for line in points[2:]]
    assert numbers == [str(n) for n in range(1, 9)]  # unique across the two curves
    full_twin = next(line for line in points if "keep=all" in line and "x=1,drop_judged" in line)
    assert "seed for seed" in full_twin  # nothing hidden: the twin is its raw run
    short_twin = next(line for line in points if "keep=1" in line and "x=1,drop_judged" in line)
    assert "| 7.0 |" in short_twin
    table = decomposition_table(report["fn_decomposition"])
    assert "FN-free random (CONTROL)" in table and "queries short raw / twin" in table
    sparse_row = next(line for line in table.splitlines() if "keep=1 | dial(x=1)" in line)
    assert "| 0.0 / 7.0 |" in sparse_row and "(raw)" not in sparse_row
    # x = 1's twin (0.47, 0.48) against the FN-free random (0.421, 0.431): 0.049, paired
    assert "| 0.0490 ± 0.0000 |" in sparse_row.replace("-0.0000", "0.0000")
    assert "Dataset: synthetic" in _facts_line(tmp_path)


def _facts_line(root: Path) -> str:
    from zelo.analysis.page import _facts
    from zelo.analysis.report import analyse

    analysis = analyse(root, n_boot=10)
    line = _facts(analysis.results, analysis.report)
    assert "seeds: 0, 1 (collection drawn with the run seed)" in line
    return line


def test_hand_written_pages_are_linked_and_kept(sweeps: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "docs" / "RESULTS.md"
    hand = out.parent / "results"
    hand.mkdir(parents=True)
    (hand / "ladder.md").write_text("Intro line\n\n# The real ladder\n\n| a |\n")
    (hand / "judges.md").write_text("no heading at all\n")
    write_page(sweeps[:1], out, n_boot=20)
    text = out.read_text()
    assert "- [judges](results/judges.md) (written by hand, not generated)" in text
    assert "- [The real ladder](results/ladder.md) (written by hand, not generated)" in text
    assert text.index("judges.md") < text.index("ladder.md")  # sorted by file name
    assert (hand / "ladder.md").read_text().endswith("| a |\n")  # kept as written
