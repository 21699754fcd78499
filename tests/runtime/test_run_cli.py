"""``python -m engine run``: a bad option exits 2 with one line naming it, never a traceback."""
from __future__ import annotations

import pytest

from engine.runtime.cli import main


@pytest.mark.parametrize(
    "args, option",
    [(["--day", "2019-13-01"], "--day"),
     (["--site", "/dev/null"], "--site"),
     (["--site", "s" * 300], "--site"),
     (["--chain-outage", "10:00-09:00"], "--chain-outage"),
     (["--state", "s" * 300], "--state"),
     (["--state", "{file}"], "--state"),
     (["--state", "{file}/below"], "--state"),
     (["--state", "{bad_journal}"], "journal.sqlite"),
     (["--chargers", "bogus"], "EV_CHARGERS")],
    ids=["bad-day", "empty-site", "long-site-name", "outage-backwards", "long-state-name", "state-is-a-file",
         "state-below-a-file", "state-with-an-unreadable-journal", "unknown-chargers"],
)
def test_bad_options_exit_2_naming_them(tmp_path, capsys, args, option):
    (tmp_path / "file").write_text("x")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "journal.sqlite").write_bytes(b"\x13not sqlite\x00" * 700)
    args = [a.format(file=tmp_path / "file", bad_journal=tmp_path / "bad") for a in args]
    base = {"--day": "2019-10-29", "--no-chain": None}
    for k, v in base.items():
        if k not in args:
            args += [k] if v is None else [k, v]
    assert main(["--headless", "--json", *args]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    last = out.err.strip().splitlines()[-1]
    assert option in last and "Traceback" not in out.err, out.err
