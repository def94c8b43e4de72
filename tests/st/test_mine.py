"""``zelo-mine``: a sentence-transformers dataset with zelo's columns and a summary, atomically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zelo.errors import ConfigError, ZeloError, zelo_cause
from zelo.st.export import SUMMARY_FILE, mine_to_dataset
from zelo.st.formats import FORMATS

REPO = Path(__file__).resolve().parents[2]
ST_COLUMNS = {
    "triplet": ["anchor", "positive", "negative"],
    "n-tuple": ["anchor", "positive", "negative_1", "negative_2", "negative_3"],
    "labeled-pair": ["anchor", "positive", "label"],
    "labeled-list": ["anchor", "positive", "labels"],
}


def load(path: Path):
    import datasets

    return datasets.load_from_disk(str(path))


def test_percpos_on_a_beir_like_split(make_mine_cfg) -> None:
    cfg = make_mine_cfg("miner=percpos", "miner/scorer=bm25", "annotation.keep_positives=1")
    summary = mine_to_dataset(cfg)
    out = Path(cfg.output_dir)
    assert json.loads((out / SUMMARY_FILE).read_text())["rows"] == summary["rows"]
    ds = load(out)
    assert ds.column_names[:3] == ST_COLUMNS["triplet"]
    assert summary["columns"]["st"] == ST_COLUMNS["triplet"]
    assert len(ds) == summary["rows"] == round(summary["queries"] * summary["mining/num_negatives"])
    # one labelled positive per query: one triplet per negative, so the flags give the rates
    fn = ds["zelo_fn"]
    assert summary["hidden_judgments"] > 0 and any(fn)
    assert sum(fn) / len(fn) == pytest.approx(summary["mining/fn_rate"])
    # the FN estimate's teacher is not the miner's scorer (BM25 here) but the next one, MiniLM
    assert summary["run/teacher"] == "minilm" and summary["fn/teacher_is_miner"] is False
    assert sum(ds["zelo_fn_teacher"]) / len(ds) == pytest.approx(summary["fn/teacher_rate"])
    assert summary["mining/dropped_perc_pos"] > 0 and 0 < summary["miner/ndcg@10"] <= 1
    scores = zip(ds["zelo_negative_score"], ds["zelo_positive_score"], strict=True)
    assert all(neg < 0.95 * pos for neg, pos in scores)
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_format_loads_with_st_columns_first(make_mine_cfg, fmt: str) -> None:
    cfg = make_mine_cfg("miner=random", f"output_format={fmt}")
    summary = mine_to_dataset(cfg)
    ds = load(Path(cfg.output_dir))
    assert ds.column_names[: len(ST_COLUMNS[fmt])] == ST_COLUMNS[fmt]
    assert summary["columns"]["st"] == ST_COLUMNS[fmt] and len(ds) == summary["rows"] > 0


def test_an_existing_output_is_kept_unless_overwrite(make_mine_cfg) -> None:
    cfg = make_mine_cfg("miner=random")
    first = mine_to_dataset(cfg)
    with pytest.raises(ConfigError, match="exists; choose another or set overwrite=true"):
        mine_to_dataset(make_mine_cfg("miner=random", "output_format=n-tuple"))
    assert load(Path(cfg.output_dir)).column_names[:3] == ST_COLUMNS["triplet"]
    second = mine_to_dataset(make_mine_cfg("miner=random", "num_negatives=1", "overwrite=true"))
    assert second["rows"] < first["rows"]


def test_no_row_left_is_an_error_and_writes_nothing(make_mine_cfg) -> None:
    cfg = make_mine_cfg("miner=random", "num_negatives=70", "output_format=n-tuple")  # 64 docs
    with pytest.raises(ZeloError, match="no row to write: 14 of 14 queries ran short"):
        mine_to_dataset(cfg)
    assert not Path(cfg.output_dir).exists()


def test_pairs_with_a_corpus_and_an_st_scorer(make_mine_cfg, pairs_dir: Path, tiny_st) -> None:
    cfg = make_mine_cfg(
        "dataset=pairs", f"dataset.path={pairs_dir / 'pairs'}",
        f"dataset.corpus={pairs_dir / 'corpus'}", "miner=topk", "miner/scorer=st",
        f"miner.scorer.path={tiny_st}", "num_negatives=2", "output_format=n-tuple",
    )  # fmt: skip
    summary = mine_to_dataset(cfg)
    ds = load(Path(cfg.output_dir))
    assert summary["columns"]["st"] == ["query", "answer", "negative_1", "negative_2"]
    assert len(ds) == 5  # one row per input pair
    for row in ds:
        assert row["answer"] not in (row["negative_1"], row["negative_2"])
        if row["query"] == "heat flow":  # its other positive is never its negative
            assert {"conduction of heat", "convection currents"}.isdisjoint(
                {row["negative_1"], row["negative_2"]}
            )
    assert summary["queries"] == 4 and summary["positives"] == 5


def zelo_mine(*args: str, module: bool = False) -> subprocess.CompletedProcess:
    exe = (
        [sys.executable, "-m", "zelo.mine"]
        if module
        else [str(Path(sys.executable).parent / "zelo-mine")]
    )
    env = {**os.environ, "WANDB_MODE": "offline"}
    return subprocess.run(
        [*exe, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_console_script_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "mined"
    proc = zelo_mine("dataset=synthetic_tiny", "miner=random", "split=validation",
                     f"output_dir={out}", f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert proc.returncode == 2
    err = proc.stdout + proc.stderr
    assert "split=validation: synthetic has qrels splits ['dev', 'test', 'train']" in err
    assert "Traceback" not in err and not out.exists()
    assert not (tmp_path / "run").exists()  # no run folder holding only that line


@pytest.mark.slow
def test_python_dash_m_runs_the_app(tmp_path: Path, cache_dir: Path) -> None:
    out = tmp_path / "mined"
    proc = zelo_mine("dataset=synthetic_tiny", "miner=topk", f"output_dir={out}",
                     f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path / 'run'}",
                     module=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '"miner/ndcg@10"' in proc.stdout  # the summary, printed
    assert (tmp_path / "run" / "mine.log").exists() and (out / SUMMARY_FILE).exists()


def test_fn_figures_say_not_measured_when_nothing_is_hidden(make_mine_cfg) -> None:
    cfg = make_mine_cfg("miner=random")  # keep_positives=null: every judged document a positive
    summary = mine_to_dataset(cfg)
    out = Path(cfg.output_dir)
    written = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["hidden_judgments"] == 0
    assert written["mining/fn_rate"] is None and written["mining/fn_per_query"] is None
    assert "annotation.keep_positives=null" in written["not_measured"]["mining/fn_rate"]
    assert set(load(out)["zelo_fn"]) == {None}  # unknown, not "not a false negative"
    # the random scorer's own scores are noise: the estimate comes from BM25, named
    assert written["run/teacher"] == "bm25" and written["fn/teacher_is_miner"] is False
    assert "fn/teacher_rate" not in written["not_measured"]


def test_a_teacher_that_is_the_miners_scorer_is_labelled_a_self_estimate(make_mine_cfg) -> None:
    cfg = make_mine_cfg(
        "miner=percpos", "miner/scorer=bm25", "teacher=bm25", "annotation.keep_positives=1"
    )
    summary = mine_to_dataset(cfg)
    assert summary["fn/teacher_is_miner"] is True and summary["run/teacher"] == "bm25"
    assert "self-estimate" in summary["not_measured"]["fn/teacher_rate"]
    assert summary["fn/teacher_rate"] == 0.0  # PercPos drops what its own scorer rates near s+


@pytest.mark.parametrize(
    ("fmt", "columns"),
    [
        ("triplet", ["anchor", "positive", "negative", "scores"]),
        ("n-tuple", ["anchor", "positive", "negative_1", "negative_2", "negative_3", "scores"]),
        ("labeled-pair", ["anchor", "positive", "score"]),
        ("labeled-list", ["anchor", "positive", "scores"]),
    ],
)
def test_output_scores_and_st_columns_only_as_mine_hard_negatives(make_mine_cfg, fmt, columns):
    opts = ("miner=topk", "miner/scorer=bm25", f"output_format={fmt}")
    cfg = make_mine_cfg(*opts, "output_scores=true", "st_columns_only=true")
    summary = mine_to_dataset(cfg)
    ds = load(Path(cfg.output_dir))
    assert ds.column_names == columns == summary["columns"]["st"]
    assert summary["columns"]["zelo"] == [] and summary["rows"] == len(ds) > 0
    full = make_mine_cfg(*opts, f"output_dir={Path(cfg.output_dir).parent / 'full'}")
    mine_to_dataset(full)
    zelo = load(Path(full.output_dir))  # the same negatives, with zelo's own score columns
    expected = {
        "triplet": lambda r: [r["zelo_positive_score"], r["zelo_negative_score"]],
        "n-tuple": lambda r: [r["zelo_positive_score"], *r["zelo_negative_scores"]],
        "labeled-pair": lambda r: r["zelo_score"],
        "labeled-list": lambda r: r["zelo_scores"],
    }[fmt]
    assert ds[columns[-1]] == [expected(r) for r in zelo]


def test_max_and_min_score_bound_the_negatives_after_the_miners_rules(make_mine_cfg) -> None:
    cfg = make_mine_cfg("miner=percpos", "max_score=0.3", "min_score=0.1", "num_negatives=2")
    summary = mine_to_dataset(cfg)
    scores = load(Path(cfg.output_dir))["zelo_negative_score"]
    assert scores and all(0.1 <= s <= 0.3 for s in scores)
    assert summary["mining/dropped_score_range"] > 0 and summary["mining/dropped_perc_pos"] > 0


@pytest.mark.slow
def test_a_newcomers_log_is_clean_and_says_what_was_measured(tmp_path: Path, cache_dir) -> None:
    out, run = tmp_path / "mined", tmp_path / "run"
    proc = zelo_mine("dataset=synthetic_tiny", "miner=random", f"output_dir={out}",
                     f"paths.cache_dir={cache_dir}", f"hydra.run.dir={run}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run / "mine.log").read_text()
    console = proc.stdout + proc.stderr
    for text in (log, console):
        assert "Traceback" not in text and "Error" not in text, text[-3000:]
        assert "it/s]" not in text and "faiss.loader" not in text  # no bars, no loader chatter
        assert "[DEBUG]" not in text  # bm25s sets its own logger to DEBUG
    lines = [line.split(" - ", 1)[-1] for line in log.splitlines() if line.startswith("[")]
    assert len(lines) == len(set(lines)), "a line logged twice"
    assert proc.stderr == ""  # everything went through the log
    assert "mining/fn_rate not measured: every judged document of split train" in log
    assert "fn/teacher_rate" in log and "bm25 scores at or above the positive" in log
    assert "miner/ndcg@10 " in log


def test_overwrite_replaces_only_a_zelo_mine_output(make_mine_cfg, tmp_path: Path) -> None:
    out = tmp_path / "mined"
    out.mkdir()
    (out / "thesis.tex").write_text("the user's")
    with pytest.raises(ConfigError, match=r"is not a zelo-mine output \(files it did not write: "):
        mine_to_dataset(make_mine_cfg("miner=random", "overwrite=true"))
    assert (out / "thesis.tex").read_text() == "the user's"
    (out / "thesis.tex").unlink()
    out.rmdir()
    mine_to_dataset(make_mine_cfg("miner=random"))
    (out / "notes.txt").write_text("added by the user")  # a zelo-mine output, plus a file
    with pytest.raises(ConfigError, match="notes.txt"):
        mine_to_dataset(make_mine_cfg("miner=random", "overwrite=true"))
    (out / "notes.txt").unlink()
    mine_to_dataset(make_mine_cfg("miner=random", "num_negatives=1", "overwrite=true"))
    assert json.loads((out / SUMMARY_FILE).read_text())["num_negatives"] == 1


def test_a_second_run_into_the_same_output_is_refused(make_mine_cfg, tmp_path: Path) -> None:
    import fcntl

    with open(tmp_path / ".mined.lock", "a+") as held:  # another zelo-mine is writing it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match="is being written by another zelo-mine"):
            mine_to_dataset(make_mine_cfg("miner=random"))
    assert not (tmp_path / "mined").exists()


def test_temporaries_go_on_error_and_a_killed_run_s_are_swept(
    make_mine_cfg, tmp_path: Path, monkeypatch
) -> None:
    import datasets

    from zelo.errors import DiskFull
    from zelo.utils.io import host_tag

    dead = subprocess.Popen(["true"])
    dead.wait()  # a process id that no longer runs
    left = tmp_path / f".mined.zelo-{host_tag()}-{dead.pid}-0123abcd.tmp"
    left.mkdir()
    (left / "data-00000-of-00001.arrow").write_bytes(bytes(1000))  # what a kill left
    original = datasets.Dataset.save_to_disk

    def full_disk(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", full_disk)
    with pytest.raises(OSError) as err:
        mine_to_dataset(make_mine_cfg("miner=random"))
    assert isinstance(zelo_cause(err.value), DiskFull)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mined.lock"]  # swept, and removed


@pytest.mark.parametrize("case", ["duplicate_query", "no_output_dir"])
def test_bad_input_is_one_line_naming_file_line_or_key(tmp_path: Path, case: str) -> None:
    beir = tmp_path / "toy"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": "b"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n{"_id": "q1", "text": "b"}\n')
    (beir / "qrels" / "train.tsv").write_text("q1\td1\t1\n")
    out = [] if case == "no_output_dir" else [f"output_dir={tmp_path / 'mined'}"]
    dataset = "dataset=scifact" if case == "no_output_dir" else "dataset=beir"
    proc = zelo_mine(dataset, f"dataset.path={beir}", "miner=random", *out,
                     f"hydra.run.dir={tmp_path / 'run'}", module=True)  # fmt: skip
    err = proc.stdout + proc.stderr
    assert proc.returncode == 2, err[-2000:]
    lines = [line for line in err.splitlines() if "ERROR" in line or "Error" in line]
    expected = {
        "duplicate_query": f"{beir / 'queries.jsonl'}, line 2: duplicate id 'q1' (first on line 1)",
        "no_output_dir": "output_dir is required (it has no default): give output_dir=...",
    }[case]
    assert len(lines) == 1 and expected in lines[0], err[-2000:]
    assert "Traceback" not in err and "InstantiationException" not in err
