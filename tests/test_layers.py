"""The package layers: no import cycle between modules or packages, nothing below mining imports it,
and nothing below the pipeline fetches run state through the trainer (it is handed)."""

from __future__ import annotations

import ast
from pathlib import Path

ZELO = Path(__file__).resolve().parents[1] / "zelo"
# packages that mining builds on: they must never import it
BELOW_MINING = ("zelo.models", "zelo.eval", "zelo.losses", "zelo.retrieval", "zelo.types")
# the trainer's back doors to other components' state; only the pipeline may hold those objects
FETCHED = ("datamodule", "lightning_module")
ABOVE_PIPELINE = ("zelo.pipeline", "zelo.train", "zelo.cli")


def _imports() -> dict[str, set[str]]:
    """Module -> the zelo modules it imports (type-checking imports included)."""
    out: dict[str, set[str]] = {}
    for path in ZELO.rglob("*.py"):
        name = ".".join(path.relative_to(ZELO.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zelo"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("zelo")}
        out[name] = deps
    return {m: {d for d in deps if d in out} for m, deps in out.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep] if dep in path else [node, dep]
            if dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_module_cycle():
    assert _cycle(_imports()) is None


def test_no_package_cycle():
    packages: dict[str, set[str]] = {}
    for module, deps in _imports().items():
        packages.setdefault(_package(module), set()).update(
            _package(d) for d in deps if _package(d) != _package(module)
        )
    assert _cycle(packages) is None


def test_nothing_below_mining_imports_it():
    bad = [
        (m, d)
        for m, deps in _imports().items()
        if m.startswith(BELOW_MINING)
        for d in deps
        if d.startswith("zelo.mining")
    ]
    assert bad == []


def test_the_checker_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _fetches(source: str) -> list[tuple[int, str]]:
    """``(line, attribute)`` of every read of ``<anything>.datamodule`` / ``.lightning_module``,
    also through ``getattr(<anything>, "datamodule")``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FETCHED:
            found.append((node.lineno, node.attr))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in FETCHED
        ):
            found.append((node.lineno, node.args[1].value))
    return found


def test_nothing_below_the_pipeline_fetches_run_state_from_the_trainer():
    bad = []
    for path in ZELO.rglob("*.py"):
        module = ".".join(path.relative_to(ZELO.parent).with_suffix("").parts)
        if module.removesuffix(".__init__") in ABOVE_PIPELINE:
            continue
        bad += [(module, line, attr) for line, attr in _fetches(path.read_text())]
    assert bad == []


def test_the_fetch_checker_finds_a_planted_read():
    planted = "def hook(trainer):\n    x = 1\n    return trainer.datamodule.latest_pass\n"
    assert _fetches(planted) == [(3, "datamodule")]
    assert _fetches("m = getattr(trainer, 'lightning_module')") == [(1, "lightning_module")]
    assert _fetches("datamodule = build(cfg).datamodule") == [(1, "datamodule")]
    assert _fetches("def f(datamodule):\n    return datamodule.passes\n") == []
