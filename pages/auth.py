"""CPO sign-in for the CPO pages (site map, cockpit, replay): the form, ``?token=``, sign-out.

Not a page (app.py does not list it). Which secret is accepted and how it is checked is
``engine.auth``: ``EV_CPO_PASSWORD``, else ``cpo_password_sha256`` in ``.streamlit/secrets.toml``,
else a one-time token printed once per process to the console (stderr) with the link that signs
in with it, ``http://localhost:8501/?token=...``, as Jupyter does. A signed-in browser session
keeps ``st.session_state[SESSION_KEY]``, which only this module sets (no widget has that key,
so a client cannot set it).
"""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from engine.auth import Credentials, credentials_from, new_token

SESSION_KEY = "_cpo_signed_in"
FAIL_DELAY_S = 0.5  # every wrong guess costs this much [s]


@st.cache_resource(show_spinner=False)
def console_token() -> str:
    """This process's one-time token, printed once to the console with its sign-in link."""
    tok = new_token()
    port = st.get_option("server.port") or 8501
    print("\n    EV cockpit: no EV_CPO_PASSWORD set. To sign in as the CPO, open\n"
          f"    http://localhost:{port}/?token={tok}\n"
          f"    or type this token in the sign-in form: {tok}\n", file=sys.stderr, flush=True)
    return tok


def credentials() -> Credentials:
    """The credentials in force (see ``engine.auth.credentials_from``)."""
    secrets: dict = {}
    try:
        if st.secrets.load_if_toml_exists():
            secrets = dict(st.secrets)
    except Exception:  # noqa: BLE001 - an unreadable secrets file means no hash
        secrets = {}
    creds = credentials_from(os.environ, secrets, "")
    if creds.kind == "token":  # neither a password nor a hash: the console token (made once)
        creds = Credentials("token", console_token())
    return creds


def signed_in() -> bool:
    """This browser session signed in as the CPO."""
    return st.session_state.get(SESSION_KEY) is True


def _accept() -> None:
    st.session_state[SESSION_KEY] = True
    st.session_state.pop("cpo_secret", None)


def require_cpo() -> bool:
    """True when signed in; else draw the sign-in form (and nothing else) and return False.

    A ``?token=`` in the URL signs in when it is the console token; it is removed from the
    address bar either way.
    """
    if signed_in():
        return True
    creds = credentials()
    tok = st.query_params.get("token")
    if tok is not None:
        del st.query_params["token"]
        if creds.kind == "token" and creds.check(tok):
            _accept()
            return True
        time.sleep(FAIL_DELAY_S)
        st.session_state["cpo_auth_msg"] = "The token in that link is not valid: sign in below."
    _form(creds)
    return False


def _form(creds: Credentials) -> None:
    _, mid, _ = st.columns([1, 2, 1])  # a narrow form, also on the wide CPO layout
    with mid:
        st.title("CPO sign-in")
        msg = st.session_state.pop("cpo_auth_msg", None)
        if msg:
            st.error(msg)
        if creds.kind == "token":
            st.caption("No CPO password is set (EV_CPO_PASSWORD). Use the token printed in the server's console "
                       "when it started, or open the link printed there.")
        else:
            st.caption("The site map, the cockpit and the replay are for the charge point operator.")
        with st.form("cpo_sign_in"):
            given = st.text_input(creds.label, type="password", key="cpo_secret")
            go = st.form_submit_button("Sign in", type="primary")
        if go:
            if creds.check(given):
                _accept()
                st.rerun()
            time.sleep(FAIL_DELAY_S)
            st.error(f"Wrong {'token' if creds.kind == 'token' else 'password'}.")
        st.caption("Drivers: use the kiosk link on your charge point.")


def gate() -> None:
    """Stop a CPO page here unless signed in (the page then shows only the sign-in form).

    app.py gates every CPO page already; this second gate is for a page script run on its own:
    until app.py has run once in the process, streamlit serves ``/<name>`` straight from
    ``pages/<name>.py`` (its multipage "v1" mode, because the folder is named ``pages``). A kiosk
    URL (``?cp=...``) is never offered the sign-in form either.
    """
    _leave_v1_routing()
    if st.query_params.get("cp"):
        st.error("This page is not available from a charge point's kiosk link.")
        st.stop()
    if not require_cpo():
        st.stop()


def _leave_v1_routing() -> None:
    """Serve the process through app.py from now on, starting with this request.

    Streamlit's multipage "v1" mode (on while ``PagesManager.uses_pages_directory`` is true, until
    some browser opens the root page and app.py's ``st.navigation`` turns it off) runs
    ``pages/<name>.py`` without app.py: no sign-in gate there, no kiosk mode, no CPO sidebar.
    Turning it off and re-running sends this very request through app.py. A private attribute:
    if a streamlit release drops it, nothing changes here and :func:`gate` still holds.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a streamlit without it
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def sign_out_button() -> None:
    """A sign-out button in the sidebar."""
    with st.sidebar:
        if st.button("Sign out", key="cpo_sign_out"):
            st.session_state.pop(SESSION_KEY, None)
            st.rerun()
