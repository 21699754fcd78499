"""AppTest fixtures: a private state folder, no cache_resource leaking between tests, and CPO sign-in."""
from __future__ import annotations

import pytest
import streamlit as st

from engine.runtime.site_runtime import SiteRuntime

CPO_PASSWORD = "test-cpo-password"


@pytest.fixture(autouse=True)
def _isolated_app(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHAIN_RPC_URL", "")
    monkeypatch.setenv("EV_CPO_PASSWORD", CPO_PASSWORD)
    SiteRuntime.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    SiteRuntime.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()


def sign_in(at):
    """Sign ``at``'s browser session in as the CPO (what the sign-in form does; tests/app/test_auth.py
    covers the form itself). Returns ``at``."""
    from pages.auth import SESSION_KEY

    at.session_state[SESSION_KEY] = True
    return at
