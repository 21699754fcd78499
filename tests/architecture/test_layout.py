"""The house rules that a reader can check by looking at the imports and the sizes of the modules.

* no import circle among the project's modules (module-level imports; a function-level import is
  a deliberate lazy load and is not an edge);
* ``engine`` never imports streamlit, web3 or websockets (the engine is pure Python and reaches the
  chain and the chargers only through its ports);
* dependencies point one way: ``engine`` imports neither ``pages``, ``contracts`` nor ``gateway``;
  ``contracts`` and ``gateway`` never import ``pages``;
* no Python module of the project is over 600 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "contracts", "gateway", "pages")
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def _top_level_imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Modules imported when ``name`` is imported (not inside functions or ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                found.add(mod)
                for a in node.names:
                    if f"{mod}.{a.name}" in known:  # `from package import submodule`
                        found.add(f"{mod}.{a.name}")

    visit(tree.body)
    return found


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    known = _modules()
    everything = {m: _top_level_imports(p, m, known) for m, p in known.items()}
    internal = {m: {i for i in imps if i in known and i != m} for m, imps in everything.items()}
    return internal, everything


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges from a package's ``__init__`` to its own submodules: Python imports a
    submodule after its package is initialised, so re-exporting children is not a circle."""
    return {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in graph.items()}


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    internal, _ = _graph()
    assert len(internal) > 50  # the walk found the project
    assert _cycles(_without_package_inits(internal)) == []


@pytest.mark.parametrize("forbidden", ["streamlit", "web3", "websockets", "eth_tester", "boa"])
def test_the_engine_never_imports(forbidden):
    _, everything = _graph()
    bad = sorted(m for m, imps in everything.items() if m.startswith("engine")
                 and any(i == forbidden or i.startswith(forbidden + ".") for i in imps))
    assert bad == []


def test_dependencies_point_one_way():
    internal, _ = _graph()
    rules = {"engine": ("pages", "contracts", "gateway"), "contracts": ("pages",), "gateway": ("pages",)}
    bad = sorted((m, i) for m, deps in internal.items() for i in deps
                 for top, banned in rules.items() if m.split(".")[0] == top and i.split(".")[0] in banned)
    assert bad == []


def test_no_module_over_600_lines():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
