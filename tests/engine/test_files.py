"""engine.files: atomic writes and the one JSON reader (size, digits, depth: never a crash)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import FieldError
from engine.files import MAX_JSON_DEPTH, atomic_write_bytes, json_depth, read_json

ROOT = Path(__file__).resolve().parents[2]


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(json.dumps(["[[[[", "\\", '"]]{{', [[]]]).encode()) == 3
    assert json_depth(b"[" * 5000) == 5000


def test_read_json(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"a": [1, 2.5, "s"], "big": 1' + "0" * 5000 + "}")
    d = read_json(p, "thing", FieldError, max_bytes=10**6)
    assert d["a"] == [1, 2.5, "s"] and d["big"] == 10**5000
    with pytest.raises(FieldError, match=r"^thing: .* at most 1024 bytes$"):
        read_json(p, "thing", FieldError, max_bytes=1024)
    p.write_text("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(FieldError, match=r"^thing: malformed JSON .* nested deeper than 100 levels"):
        read_json(p, "thing", FieldError, max_bytes=10**6)
    p.write_text("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert read_json(p, "thing", FieldError, max_bytes=10**6)
    p.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(FieldError, match=r"^thing: cannot read"):
        read_json(p, "thing", FieldError, max_bytes=10**6)
    with pytest.raises(FieldError, match=r"^thing: file not found"):
        read_json(tmp_path / "none.json", "thing", FieldError, max_bytes=10**6)


def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit(tmp_path: Path) -> None:
    """web3's dependencies (py_ecc) raise the recursion limit to 100,000: json.loads then segfaults."""
    p = tmp_path / "site.json"
    p.write_text('{"name": ' + "[" * 200_000 + "]" * 200_000 + "}")
    code = (
        "import sys; sys.setrecursionlimit(100_000)\n"
        "from engine.site import SiteError, load_site\n"
        f"try:\n    load_site({str(p)!r})\nexcept SiteError as e:\n    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.startswith("site: malformed JSON") and "nested deeper" in r.stdout


def test_atomic_write_bytes(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01" and not list(p.parent.glob("*.tmp"))
