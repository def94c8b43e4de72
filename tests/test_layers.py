"""The package layers: no import cycle between modules or packages, nothing below mining imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ZELO = Path(__file__).resolve().parents[1] / "zelo"
# packages that mining builds on: they must never import it
BELOW_MINING = ("zelo.models", "zelo.eval", "zelo.losses", "zelo.retrieval", "zelo.types")


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
