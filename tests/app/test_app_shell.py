"""app.py: navigation, the shared CPO sidebar, and the kiosk URL that shows the kiosk alone."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_cpo_pages_and_sidebar_with_the_embedded_chain():
    at = sign_in(AppTest.from_file(APP, default_timeout=120))
    at.run()
    assert not at.exception, at.exception
    # pages never wait for the chain: the runtime's outbox thread connects it in the background
    for _ in range(120):
        if "chain id" in _texts(at.sidebar.caption):
            break
        time.sleep(1)
        at.run()
    assert [t.value for t in at.title] == ["Site map"]  # the default page
    side = _texts(at.sidebar.markdown) + _texts(at.sidebar.caption)
    assert "Caltech ACN garage, Pasadena" in side
    assert "Site clock" in side and "America/Los_Angeles" in side
    assert "embedded" in side and "chain id" in side
    assert "chain answers" in _texts(at.sidebar.success)
    at.switch_page("pages/kiosk.py").run()
    assert [t.value for t in at.title] == ["EV charging kiosk"]
    if (ROOT / "pages" / "replay.py").exists():
        at.switch_page("pages/replay.py")  # registered under "Analyst"


def test_kiosk_url_shows_the_kiosk_alone(monkeypatch):
    monkeypatch.setenv("EV_CHAIN", "off")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["cp"] = "CA-303"
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["EV charging kiosk"]
    assert len(at.sidebar.children) == 0  # no CPO sidebar
    assert "Charge point CA-303" in _texts(at.subheader)
    with pytest.raises(Exception, match="Known pages"):
        at.switch_page("pages/map.py")  # not registered in kiosk mode


def test_sidebar_clock_and_chain_off(monkeypatch):
    monkeypatch.setenv("EV_CHAIN", "off")
    monkeypatch.setenv("EV_NOW", "2026-05-06T09:30:00")
    at = sign_in(AppTest.from_file(APP, default_timeout=60))
    at.run()
    assert not at.exception, at.exception
    side = _texts(at.sidebar.caption)
    assert "Wed 06 May 2026, 09:30" in side
    assert "Chain: **off**" in side
    assert "shipped sample" in side


def test_pages_render_at_once_while_the_chain_node_hangs(monkeypatch):
    """A node that accepts connections and never answers: the kiosk and the CPO's pages render
    without waiting for it (the chain connects in the runtime's outbox thread), the sidebar says
    the chain is unavailable, and nothing raises."""
    from tests.contracts.faultproxy import HangingListener

    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")
    with HangingListener() as hung:
        monkeypatch.setenv("CHAIN_RPC_URL", hung.url)
        kiosk = AppTest.from_file(APP, default_timeout=60)
        kiosk.query_params["cp"] = "CA-303"
        t0 = time.monotonic()
        kiosk.run()
        assert time.monotonic() - t0 < 10 and not kiosk.exception, kiosk.exception
        assert kiosk.number_input(key="energy_kwh") is not None
        cpo = sign_in(AppTest.from_file(APP, default_timeout=60))  # the site map and the CPO's sidebar
        t0 = time.monotonic()
        cpo.run()
        assert time.monotonic() - t0 < 10 and not cpo.exception, cpo.exception
        assert "Chain unavailable" in _texts(cpo.sidebar.error)
        cockpit = sign_in(AppTest.from_file(str(ROOT / "pages" / "cockpit.py"), default_timeout=60))
        t0 = time.monotonic()
        cockpit.run()
        assert time.monotonic() - t0 < 10 and not cockpit.exception, cockpit.exception
