"""The shape of the tree, read from the source (the AST), not by importing it: no import
circles between modules, no module over 500 lines, public names in ``__all__``, and the CLI
reaching the engine and the text side only through their public names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kokoro_common", "preprocess", "engine", "kokoro_cli")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    """Every module of our packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module imported, names taken from it) for every import anywhere in the file, lazy
    ones inside functions and TYPE_CHECKING ones included: each is a dependency."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, tuple(alias.name for alias in node.names)


def _edges(name: str, path: Path) -> set[str]:
    """The project modules ``name`` depends on; ``from pkg import sub`` names the submodule."""
    targets = set()
    for module, names in _imports(name, path):
        if module in MODULES:
            targets.add(module)
        targets.update(f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES)
    return targets - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph``, or None. A package's own ``__init__`` importing its
    submodules is how a package exposes them, so a submodule importing its parent package is
    the circle that counts and is kept in the graph."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles():
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_circles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_packages_depend_in_one_direction():
    """kokoro_common imports nothing of ours; preprocess and engine only kokoro_common and
    (engine) nothing of the CLI; only kokoro_cli may import everything."""
    allowed = {"kokoro_common": {"kokoro_common"},
               "preprocess": {"kokoro_common", "preprocess"},
               "engine": {"kokoro_common", "engine"},
               "kokoro_cli": set(PACKAGES)}
    wrong = [f"{name} imports {target}" for name, path in MODULES.items()
             for target in _edges(name, path)
             if target.split(".")[0] not in allowed[name.split(".")[0]]]
    assert not wrong


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size_and_public_names(name):
    path = MODULES[name]
    text = path.read_text("utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{path} has over {MAX_LINES} lines"
    if path.name != "__main__.py":
        assert "__all__" in text, f"{path} does not declare its public names"


def test_cli_uses_only_public_names_of_engine_and_preprocess():
    public = {package: set(_all_of(MODULES[package])) for package in ("engine", "preprocess")}
    wrong = []
    for name, path in MODULES.items():
        if not name.startswith("kokoro_cli"):
            continue
        for module, names in _imports(name, path):
            top = module.split(".")[0]
            if top not in public:
                continue
            if module != top:
                wrong.append(f"{name} imports {module} (use the package's public names)")
            wrong += [f"{name} imports {top}.{n}, not in {top}.__all__"
                      for n in names if n not in public[top]]
    assert not wrong


def _all_of(path: Path) -> list[str]:
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []
