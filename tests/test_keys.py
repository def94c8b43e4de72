"""Metric keys: every one comes from ``zelo/keys.py``, and every key that the analysis, the
notebook and the README read is written by some code path (a module outside the analysis uses its
constant, or calls the key family that makes it)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import zelo.keys as keys

REPO = Path(__file__).resolve().parents[1]
ZELO = REPO / "zelo"
KEY = re.compile(r"(train|val|test|mining|miner|fn|run|time|trainer)/[\w@.]*[\w@]")


def _modules(under: Path = ZELO) -> dict[str, ast.AST]:
    return {p.relative_to(REPO).as_posix(): ast.parse(p.read_text()) for p in under.rglob("*.py")}


def _key_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Key-like string constants, docstrings and f-string pieces left out."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and KEY.fullmatch(node.value)
    ]


def _names(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.alias):
            out.add(node.asname or node.name)
    return out


def _constants() -> dict[str, str]:
    """``zelo.keys`` constant name -> metric key."""
    return {
        name: value
        for name, value in vars(keys).items()
        if name.isupper() and isinstance(value, str) and KEY.fullmatch(value)
    }


def _mining_figures() -> set[str]:
    """Names the miners and scorers report (``mining/<figure>``): their string constants."""
    return {
        node.value
        for tree in _modules(ZELO / "mining").values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def written_keys() -> tuple[set[str], dict[str, re.Pattern]]:
    """The keys written by modules outside the analysis: constants they use, and the patterns of
    the key families they call."""
    constants = _constants()
    used: set[str] = set()
    for path, tree in _modules().items():
        if path.startswith("zelo/analysis/") or path == "zelo/keys.py":
            continue
        used |= _names(tree)
    exact = {value for name, value in constants.items() if name in used}
    exact |= {v for name, v in vars(keys).items() if name == "RUN_CHOICES" for v in v.values()}
    families = {f: re.compile(p) for f, p in keys.FAMILIES.items() if f in used}
    return exact, families


def is_written(key: str, exact: set[str], families: dict[str, re.Pattern]) -> bool:
    if key in exact:
        return True
    for family, pattern in families.items():
        if pattern.fullmatch(key):
            if family != "mining_key" or key.removeprefix(keys.MINING_PREFIX) in _mining_figures():
                return True
    return False


def _text_keys(text: str) -> set[str]:
    """Metric keys named in prose or code: ``<placeholder>`` read as a name; config group paths
    (``miner/scorer``, a folder of conf/) and file names left out."""
    text = re.sub(r"<[^<>\s]+>", "x", text)
    found = set()
    for m in KEY.finditer(text):
        key, after = m.group(), text[m.end() : m.end() + 1]
        before = text[m.start() - 1 : m.start()] if m.start() else ""
        if (
            (REPO / "conf" / key).is_dir()
            or (after and after in "/=")
            or (before and before in "/._-")
        ):
            continue
        if re.search(r"\.(py|yaml|json|ipynb|md|png|csv)$", key):
            continue
        found.add(key)
    return found


def read_keys() -> dict[str, set[str]]:
    """Where each read key is read: the analysis (the constants it uses), the notebook's code
    and the README's backticked names."""
    constants = _constants()
    reads: dict[str, set[str]] = {}
    for path, tree in _modules(ZELO / "analysis").items():
        for name in _names(tree) & constants.keys():
            reads.setdefault(constants[name], set()).add(path)
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for key in _text_keys(code):
            reads.setdefault(key, set()).add(nb.name)
    readme = re.sub(r"```.*?```", "", (REPO / "README.md").read_text(), flags=re.S)
    for snippet in re.findall(r"`([^`\n]+)`", readme):
        for key in _text_keys(snippet):
            reads.setdefault(key, set()).add("README.md")
    return reads


def test_no_metric_key_literal_outside_keys_py():
    bad = [
        (path, line, value)
        for path, tree in _modules().items()
        if path != "zelo/keys.py"
        for line, value in _key_literals(tree)
    ]
    assert bad == []


def test_every_key_read_is_written_by_some_code_path():
    exact, families = written_keys()
    reads = read_keys()
    assert len(reads) > 30  # the check sees the readers
    unwritten = {k: sorted(w) for k, w in reads.items() if not is_written(k, exact, families)}
    assert unwritten == {}


def test_the_checker_finds_a_key_nobody_writes():
    exact, families = written_keys()
    assert is_written("mining/fn_rate", exact, families)
    assert is_written("test/ndcg@10_before", exact, families)
    assert is_written("mining/dropped_margin", exact, families)
    assert not is_written("mining/fn_ratio", exact, families)
    assert not is_written("test/ndcg@20", exact, families)
    assert _text_keys("see `miner/scorer=st` and `mining/dropped_<rule>`") == {"mining/dropped_x"}
