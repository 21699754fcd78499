"""The README and docs/ point only at files that are in the repository (#9 item 4: the README
pointed at spec files a reader could not find).

A file named in backticks (``engine/kiosk/service.py``, ``loop.py``) or linked (``[x](docs/y.md)``)
must be in the repository: at that path from the root, next to the document, or (a bare or
partial name, as the docs write them inside a package's section) as a file ending with that
path. Files the app or the user writes at run time (the state folder's, ``secrets.toml``) are
not looked for. No document names a path outside the repository.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCE = re.compile(r"[A-Za-z0-9_./-]+\.(?:py|vy|vyi|md|sh|txt|ini|cfg)")
WRITTEN_AT_RUN_TIME = {"secrets.toml"}
SKIP_DIRS = {".git", "node_modules", "screenshots", "state", "__pycache__"}


def _repo_files() -> list[str]:
    return [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


FILES = _repo_files()


def _named(doc: Path) -> set[str]:
    text = doc.read_text()
    names = set()
    for token in re.findall(r"`([^`\n]+)`", text):
        for word in token.split():
            word = word.split("::")[0].strip(".,:;()'\"")
            if SOURCE.fullmatch(word) and not word.startswith(("$", "/", "http")):
                names.add(word)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            names.add(target.split("#")[0])
    return {n for n in names if n and Path(n).name not in WRITTEN_AT_RUN_TIME}


def _found(name: str, doc: Path) -> bool:
    if (ROOT / name).exists() or (doc.parent / name).exists():
        return True
    return any(f == name or f.endswith("/" + name) for f in FILES)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_file_a_document_names_is_in_the_repository(doc):
    missing = sorted(n for n in _named(doc) if not _found(n, doc))
    assert not missing, f"{doc.name} names files that are not in the repository: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_document_points_outside_the_repository(doc):
    text = doc.read_text()
    assert not re.search(r"(?<![\w.])/(?:work|home|root|Users)/", text), doc.name


def test_the_checker_finds_a_missing_file(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("See `engine/kiosk/service.py`, `loop.py`, `spec/requirements.md` and [notes](missing.md).")
    missing = sorted(n for n in _named(doc) if not _found(n, doc))
    assert missing == ["missing.md", "spec/requirements.md"]
