"""engine.site.store: the shipped site until the first edit, atomic saves to the state folder."""
from __future__ import annotations

import json

import pytest

from engine.site.model import SiteError
from engine.files import state_dir
from engine.site.store import DEFAULT_SITE, SiteStore


def test_default_then_saved_then_reset(tmp_path):
    store = SiteStore(tmp_path)
    assert not store.edited and store.site().name.startswith("Caltech")
    old, new = store.update(lambda s: s.with_threshold("CC-POD", 12.5))
    assert old.cabinet("CC-POD").threshold_kw == pytest.approx(16.64)
    assert store.edited and store.site().cabinet("CC-POD").threshold_kw == 12.5
    assert json.loads((tmp_path / "site.json").read_text())["cabinets"][0]["threshold_kw"] == 12.5
    assert SiteStore(tmp_path).site().cabinet("CC-POD").threshold_kw == 12.5  # survives a restart
    assert not list(tmp_path.glob("*.tmp"))
    store.reset()
    assert not store.edited and store.site().cabinet("CC-POD").threshold_kw == pytest.approx(16.64)
    assert json.loads(DEFAULT_SITE.read_text())["cabinets"][0]["threshold_kw"] == pytest.approx(16.64)


def test_a_failed_edit_saves_nothing(tmp_path):
    store = SiteStore(tmp_path)
    with pytest.raises(SiteError, match=r"threshold_kw"):
        store.update(lambda s: s.with_threshold("CC-POD", -1))
    assert not store.edited


def test_state_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_STATE_DIR", str(tmp_path / "x"))
    assert state_dir() == tmp_path / "x" and (tmp_path / "x").is_dir()
