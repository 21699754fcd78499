"""CPO sign-in: engine.auth (which secret, constant-time checks) and the form / ?token= in the app."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.auth import Credentials, credentials_from, hash_password, new_token
from tests.app.conftest import CPO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = str(ROOT / "pages" / "cockpit.py")


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.setenv("EV_CHAIN", "off")
    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")


def _text(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _at_cockpit(query: dict | None = None, script: str = PAGE) -> AppTest:
    """The cockpit page (its own gate is app.py's: ``pages.auth.require_cpo``)."""
    at = AppTest.from_file(script, default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _sign_in(at: AppTest, secret: str) -> AppTest:
    at.text_input(key="cpo_secret").set_value(secret)
    at.button(key="FormSubmitter:cpo_sign_in-Sign in").click().run()
    assert not at.exception, at.exception
    return at


# -- engine.auth -------------------------------------------------------------------------------------
def test_credentials_come_from_the_password_then_the_hash_then_the_token():
    h = hash_password("s3cret", salt="abc")
    assert h.startswith("abc$") and len(h.split("$")[1]) == 64
    assert credentials_from({"EV_CPO_PASSWORD": "pw"}, {"cpo_password_sha256": h}, "tok") == Credentials("password", "pw")
    assert credentials_from({}, {"cpo_password_sha256": h}, "tok") == Credentials("hash", h)
    assert credentials_from({"EV_CPO_PASSWORD": ""}, None, "tok") == Credentials("token", "tok")
    assert credentials_from({}, {"cpo_password_sha256": "no-salt-separator"}, "tok").kind == "token"


def test_checks():
    assert Credentials("password", "pw").check("pw")
    for bad in ("", "pw ", "PW", None, 123, "p"):
        assert not Credentials("password", "pw").check(bad)
    h = Credentials("hash", hash_password("s3cret"))
    assert h.check("s3cret") and not h.check("s3cret!") and not h.check(h.secret)
    assert not Credentials("hash", "salt$").check("")
    assert not Credentials("token", "").check("")  # no token: nothing is accepted
    t = new_token()
    assert len(t) == 48 and t != new_token() and Credentials("token", t).check(t)


# -- the app -----------------------------------------------------------------------------------------
def test_a_wrong_password_is_refused_and_the_right_one_opens_the_cockpit():
    at = _at_cockpit()
    assert [t.value for t in at.title] == ["CPO sign-in"]
    at = _sign_in(at, "guess")
    assert "Wrong password." in _text(at.error)
    assert [t.value for t in at.title] == ["CPO sign-in"] and len(at.dataframe) == 0
    at = _sign_in(at, CPO_PASSWORD)
    assert [t.value for t in at.title] == ["Cockpit"] and at.dataframe


def test_app_signs_in_then_draws_the_cpo_sidebar_and_signs_out():
    at = _at_cockpit(script=APP)  # the default CPO page, gated in app.py
    assert [t.value for t in at.title] == ["CPO sign-in"] and len(at.sidebar.children) == 0
    at = _sign_in(at, "guess")
    assert "Wrong password." in _text(at.error) and len(at.sidebar.children) == 0
    at.text_input(key="cpo_secret").set_value(CPO_PASSWORD)
    at.button(key="FormSubmitter:cpo_sign_in-Sign in").click().run()
    assert "CPO sign-in" not in [t.value for t in at.title]
    assert "Caltech ACN garage, Pasadena" in _text(at.sidebar.markdown)  # the CPO sidebar (app.py)
    at.button(key="cpo_sign_out").click().run()
    assert [t.value for t in at.title] == ["CPO sign-in"] and len(at.sidebar.children) == 0


def test_without_a_password_the_console_token_works_typed_or_in_the_url(monkeypatch, capfd):
    monkeypatch.delenv("EV_CPO_PASSWORD")
    at = _at_cockpit()
    assert at.text_input(key="cpo_secret").label == "Sign-in token"
    from pages import auth

    tok = auth.console_token()
    printed = capfd.readouterr().err
    assert f"http://localhost:8501/?token={tok}" in printed and printed.count(tok) == 2  # once, link and token
    assert auth.console_token() == tok and tok not in capfd.readouterr().err  # printed once per process
    at = _sign_in(at, CPO_PASSWORD)  # a password is no token
    assert "Wrong token." in _text(at.error)
    at = _sign_in(at, tok)
    assert [t.value for t in at.title] == ["Cockpit"]
    # ?token= in the URL signs in, and leaves the address bar
    at = _at_cockpit({"token": tok})
    assert [t.value for t in at.title] == ["Cockpit"] and "token" not in at.query_params
    assert at.session_state[auth.SESSION_KEY] is True
    bad = _at_cockpit({"token": "0" * 48})
    assert "token in that link is not valid" in _text(bad.error) and [t.value for t in bad.title] == ["CPO sign-in"]


def test_a_url_token_is_ignored_when_a_password_is_set():
    from pages import auth

    at = _at_cockpit({"token": CPO_PASSWORD})  # not even the password itself, in a URL
    assert [t.value for t in at.title] == ["CPO sign-in"]
    assert auth.SESSION_KEY not in at.session_state


def test_a_kiosk_url_never_offers_sign_in_or_cpo_pages():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["cp"] = "CA-303"
    at.query_params["token"] = "anything"
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["EV charging kiosk"]
    with pytest.raises(Exception, match="Known pages"):
        at.switch_page("pages/cockpit.py")
