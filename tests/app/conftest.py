"""AppTest fixtures: a private state folder and no cache_resource leaking between tests."""
from __future__ import annotations

import pytest
import streamlit as st

from engine.runtime.site_runtime import SiteRuntime


@pytest.fixture(autouse=True)
def _isolated_app(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHAIN_RPC_URL", "")
    SiteRuntime.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    SiteRuntime.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()
