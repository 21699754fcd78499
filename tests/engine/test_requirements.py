"""requirements.txt runs the app; requirements-test.txt adds the test tools (#9 item 4).

Every third-party module that app.py, pages/, engine/ or contracts/ imports must come from a
package of requirements.txt (listed, or installed as a dependency of a listed one), and no test
tool may be needed to run the app.
"""
from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"titanoboa", "hypothesis", "pytest", "pytest-timeout", "playwright", "pytest-playwright"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _listed(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert m, f"{path.name}: not pinned exactly: {line!r}"
        out[_norm(m.group(1))] = m.group(3)
    return out


def _closure(names: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r and not any(f'extra == "{e}"' in r for e in ("py-evm",)):
                continue
            m = re.match(r"[A-Za-z0-9_.-]+", r)
            if m:
                todo.append(_norm(m.group(0)))
    return seen


def _app_imports() -> set[str]:
    files = [ROOT / "app.py", *(ROOT / "pages").rglob("*.py"), *(ROOT / "engine").rglob("*.py"), *(ROOT / "contracts").rglob("*.py")]
    mods: set[str] = set()
    for f in files:
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.Import):
                mods.update(a.name.split(".")[0] for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
                mods.add(n.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m not in ("engine", "contracts", "pages")}


def test_the_app_needs_only_requirements_txt() -> None:
    app = _listed(ROOT / "requirements.txt")
    assert not TEST_TOOLS & set(app), "test tools belong in requirements-test.txt"
    provided = _closure(set(app))
    dists = metadata.packages_distributions()
    for module in sorted(_app_imports()):
        owners = {_norm(d) for d in dists.get(module, [])}
        assert owners, f"{module}: imported by the app but not installed"
        assert owners & provided, f"{module} (from {owners}) is not provided by requirements.txt"
        assert not owners & TEST_TOOLS, f"{module}: the app imports a test tool"
    # the contracts are compiled at run time and import snekmate's modules
    if any("from snekmate" in f.read_text() for f in (ROOT / "contracts").glob("*.vy")):
        assert "snekmate" in app


def test_the_test_requirements_include_the_app_and_pin_the_tools() -> None:
    text = (ROOT / "requirements-test.txt").read_text()
    assert "-r requirements.txt" in text.splitlines()
    tools = _listed(ROOT / "requirements-test.txt")
    assert TEST_TOOLS <= set(tools)
    assert not set(tools) & set(_listed(ROOT / "requirements.txt")), "a package pinned twice"
    for name, version in tools.items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
