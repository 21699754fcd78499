"""A truncated or bogus state/site.json no longer breaks the pages (#10 item 8).

Before, ``SiteStore.site()`` raised on every page, the kiosk's included. Now the pages run on the
last good site (or the shipped one) and ``SiteStore.problem`` says what went wrong.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")
    monkeypatch.setenv("EV_CHAIN", "off")


def _write_site(content: str) -> Path:
    state = Path(os.environ["EV_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "site.json").write_text(content)
    return state


def _truncated() -> str:
    text = (ROOT / "data" / "site.json").read_text()
    return text[: len(text) // 3]


def _bogus_timezone() -> str:
    d = json.loads((ROOT / "data" / "site.json").read_text())
    d["timezone"] = "Mars/Olympus_Mons"
    return json.dumps(d)


def _the_kiosk_quotes_12_kwh() -> None:
    """The kiosk of CA-303 draws and answers a 12 kWh request without an error."""
    at = AppTest.from_file(str(ROOT / "pages" / "kiosk.py"), default_timeout=120)
    at.query_params["cp"] = "CA-303"
    at.run()
    assert not at.exception, at.exception
    at.number_input(key="energy_kwh").set_value(12.0)
    at.button(key="FormSubmitter:need-Can my need be met?").click().run()
    assert not at.exception, at.exception
    assert "Guaranteed: 12.0 kWh" in "\n".join(str(e.value) for e in at.success)


@pytest.mark.parametrize("content", [_truncated, _bogus_timezone], ids=["truncated", "bogus-timezone"])
def test_the_kiosk_still_quotes(content) -> None:
    _write_site(content())
    _the_kiosk_quotes_12_kwh()


@pytest.mark.parametrize("content", [_truncated, _bogus_timezone], ids=["truncated", "bogus-timezone"])
def test_the_site_map_still_draws(content) -> None:
    state = _write_site(content())
    at = sign_in(AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=120))
    at.run()
    assert not at.exception, at.exception
    from engine.site.store import SiteStore

    problem = SiteStore(state).problem
    assert problem is not None and "site.json cannot be used" in problem and "shipped site" in problem


def test_an_unreadable_journal_leaves_the_kiosk_working_and_the_cpo_told() -> None:
    """A journal.sqlite SQLite cannot read used to raise on every page, the kiosk's included."""
    state = Path(os.environ["EV_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "journal.sqlite").write_bytes(b"\x13not sqlite\x00" * 700)
    _the_kiosk_quotes_12_kwh()
    assert (state / "journal.sqlite.bad-1").exists()

    app = sign_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120))  # the CPO's sidebar
    app.run()
    assert not app.exception, app.exception
    warnings = "\n".join(str(w.value) for w in app.sidebar.warning)
    assert "journal.sqlite could not be read" in warnings and "journal.sqlite.bad-1" in warnings
    app.sidebar.button(key="journal_problems_seen").click().run()
    assert "journal.sqlite" not in "\n".join(str(w.value) for w in app.sidebar.warning)
