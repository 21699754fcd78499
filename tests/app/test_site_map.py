"""pages/map.py: groups table, selection, filter, each edit saved + on chain, errors naming the field."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "map.py")


@pytest.fixture
def chain_off(monkeypatch):
    monkeypatch.setenv("EV_CHAIN", "off")


def _page() -> AppTest:
    at = sign_in(AppTest.from_file(PAGE, default_timeout=120))
    at.run()
    assert not at.exception, at.exception
    return at


def _saved() -> dict:
    return json.loads((Path(os.environ["EV_STATE_DIR"]) / "site.json").read_text())


def _groups(at) -> dict:
    df = at.dataframe[0].value
    return {r["cabinet"]: r for r in df.to_dict("records")}


def _text(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_groups_table_and_deck(chain_off):
    at = _page()
    g = _groups(at)
    assert list(g) == ["CC-POD", "AV-POD", "AB-PANEL", "BC-NORTH", "BC-SOUTH", "CA-WEST", "CA-EAST"]
    assert g["CC-POD"]["threshold_kw"] == pytest.approx(16.64) and g["CC-POD"]["charge_points"] == 8
    assert "CA-322" in g["CC-POD"]["members"]
    assert g["BC-NORTH"]["pv_kwp"] == 20 and g["BC-SOUTH"]["battery_kwh"] == 60
    assert g["AB-PANEL"]["other_load_kw"] == 6 and "LIGHT-1" in g["AB-PANEL"]["members"]
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert "carto" not in json.dumps(spec).lower() and "mapbox" not in json.dumps(spec).lower()
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert {"deck", "groups", "cables", "equipment", "charge_points", "labels"} <= set(layers)
    assert len(layers["charge_points"]["data"]) == 54
    assert len(layers["cables"]["data"]) == 61


def test_filter_and_seeded_selection(chain_off):
    at = sign_in(AppTest.from_file(PAGE, default_timeout=60))
    at.session_state["asset_pick"] = "CA-303"
    at.run()
    details = _text(at.markdown)
    assert "Charge point CA-303" in details
    table = at.table[0].value
    assert table.loc["cabinet", "value"] == "AB-PANEL"
    assert table.loc["rated power [kW]", "value"] == "6.656"
    at.multiselect(key="cab_filter").set_value(["CC-POD"]).run()
    assert at.selectbox(key="asset_pick").value is None  # CA-303 is filtered out
    assert set(at.selectbox(key="asset_pick").options) == {"CC-POD", "CA-322", "CA-493", "CA-496", "CA-320",
                                                           "CA-495", "CA-321", "CA-323", "CA-494"}
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert len(next(ly for ly in spec["layers"] if ly["id"] == "charge_points")["data"]) == 8


def test_edit_errors_name_the_field(chain_off):
    at = _page()
    at.number_input(key="thr_kw").set_value(-3.0)
    at.button(key="FormSubmitter:threshold-Set threshold").click().run()
    assert "threshold_kw" in _text(at.error) and "Not saved" in _text(at.error)
    at.selectbox(key="move_id").set_value("CA-303").run()
    at.number_input(key="move_lat_CA-303").set_value(95.0)
    at.button(key="FormSubmitter:move_asset-Move asset").click().run()
    assert "lat" in _text(at.error) and "latitude" in _text(at.error)
    at.text_input(key="add_id").set_value("CA-303")
    at.button(key="FormSubmitter:add_asset-Add asset").click().run()
    assert "id: duplicate id 'CA-303'" in _text(at.error)
    at.text_input(key="add_id").set_value("PV-X")
    at.selectbox(key="add_kind").set_value("pv_inverter")
    at.number_input(key="add_rated").set_value(0.0)
    at.button(key="FormSubmitter:add_asset-Add asset").click().run()
    assert "rated_kw" in _text(at.error)
    assert not (Path(os.environ["EV_STATE_DIR"]) / "site.json").exists()  # nothing was saved


def test_edits_are_saved_change_the_groups_and_go_on_chain():
    at = _page()
    from pages import ui

    assert ui.chain().ensure_synced()  # the runtime's outbox thread syncs in the background; wait for it
    assert len(ui.chain().ledger.read_registry()) == 61
    # threshold
    at.selectbox(key="thr_cabinet").set_value("CC-POD")
    at.number_input(key="thr_kw").set_value(20.0)
    at.button(key="FormSubmitter:threshold-Set threshold").click().run()
    assert "written to SC1 (set_threshold): tx `0x" in _text(at.success), _text(at.error)
    assert _saved()["cabinets"][0]["threshold_kw"] == 20.0
    assert _groups(at)["CC-POD"]["threshold_kw"] == 20.0
    # re-wire CA-303 from AB-PANEL to CC-POD
    at.selectbox(key="wire_id").set_value("CA-303")
    at.selectbox(key="wire_cabinet").set_value("CC-POD")
    at.button(key="FormSubmitter:rewire_asset-Re-wire asset").click().run()
    assert "(move_asset): tx `0x" in _text(at.success), _text(at.error)
    g = _groups(at)
    assert g["CC-POD"]["charge_points"] == 9 and g["AB-PANEL"]["charge_points"] == 9
    # move on the map
    at.selectbox(key="move_id").set_value("PV-N1").run()
    assert at.number_input(key="move_lat_PV-N1").value == pytest.approx(ui.site_store().site().asset("PV-N1").lat)
    at.number_input(key="move_lat_PV-N1").set_value(34.13701)
    at.number_input(key="move_lon_PV-N1").set_value(-118.12490)
    at.button(key="FormSubmitter:move_asset-Move asset").click().run()
    assert "(move_asset): tx `0x" in _text(at.success), _text(at.error)
    # add a PV inverter
    at.text_input(key="add_id").set_value("PV-E1")
    at.selectbox(key="add_kind").set_value("pv_inverter")
    at.selectbox(key="add_cabinet").set_value("CA-EAST")
    at.number_input(key="add_rated").set_value(9.0)
    at.button(key="FormSubmitter:add_asset-Add asset").click().run()
    assert "(register_asset): tx `0x" in _text(at.success), _text(at.error)
    saved = {a["id"]: a for a in _saved()["assets"]}
    assert saved["CA-303"]["cabinet"] == "CC-POD" and saved["PV-N1"]["lat"] == pytest.approx(34.13701)
    assert saved["PV-E1"]["cabinet"] == "CA-EAST" and saved["PV-E1"]["kind"] == "pv_inverter"
    # the chain holds the edits, and the details panel shows the registration
    ledger = ui.chain().ledger
    assert ledger.get_cabinet("CC-POD").threshold_kw == pytest.approx(20.0)
    assert ledger.get_asset("CA-303").cabinet == "CC-POD"
    at.session_state["asset_pick"] = "PV-E1"
    at.run()
    t = at.table[0].value
    assert t.loc["asset key (SC1)", "value"].startswith("0x")
    assert t.loc["registered in tx", "value"].startswith("0x")
    # the live runtime posts a new asset's first status at its next tick: on a busy machine that
    # can land before this page run, so either is right, but never anything else
    last = t.loc["last status on chain", "value"]
    assert last.startswith("none yet") or last.startswith("Available, 0 kW"), last


def test_a_kiosk_session_colours_its_charge_point(monkeypatch):
    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")
    at = _page()
    import time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from engine.ledger import Status
    from pages import ui
    from pages.ui import STATUS_COLORS

    now = datetime(2026, 5, 6, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    ui.kiosk().book("CA-322", now + timedelta(hours=2), 6.0, now)
    deadline = time.time() + 120  # the runtime charges it and its outbox posts the status
    while time.time() < deadline:
        rep = ui.chain_status("CA-322")
        if rep is not None and rep.status == Status.CHARGING:
            break
        time.sleep(0.5)
    at.session_state["asset_pick"] = "CA-322"
    at.run()
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    cps = {d["id"]: d for d in next(ly for ly in spec["layers"] if ly["id"] == "charge_points")["data"]}
    assert cps["CA-322"]["color"][:3] == list(STATUS_COLORS[Status.CHARGING])
    assert cps["CA-493"]["color"][:3] == list(STATUS_COLORS[Status.AVAILABLE])
    t = at.table[0].value
    assert t.loc["last status on chain", "value"].startswith("Charging")
    assert "6.0 kWh promised until 10:00" in t.loc["kiosk session", "value"]


def test_a_cabinet_shows_its_day_as_the_engine_sees_it(chain_off):
    at = sign_in(AppTest.from_file(PAGE, default_timeout=60))
    at.session_state["asset_pick"] = "BC-NORTH"
    at.run()
    assert not at.exception, at.exception
    assert "Threshold **25 kW**" in _text(at.markdown) and "PV 20 kWp" in _text(at.markdown)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t["name"] for t in fig["data"]]
    assert names[:3] == ["threshold [kW]", "PV [kW]", "other load [kW]"]
    import base64

    import numpy as np

    y = fig["data"][1]["y"]
    pv = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else np.asarray(y)
    assert pv.shape == (96,) and pv.max() > 0 and pv[:16].max() == 0  # PV by day only


def test_a_threshold_the_chain_would_refuse_or_zero_is_not_saved(chain_off):
    at = _page()
    for kw in (1e9, 0.0):
        at.number_input(key="thr_kw").set_value(kw)
        at.button(key="FormSubmitter:threshold-Set threshold").click().run()
        assert "Not saved" in _text(at.error) and "threshold_kw" in _text(at.error)
    assert not (Path(os.environ["EV_STATE_DIR"]) / "site.json").exists()


def test_a_move_far_from_the_site_is_refused(chain_off):
    at = _page()
    at.selectbox(key="move_id").set_value("CA-303").run()
    at.number_input(key="move_lat_CA-303").set_value(0.0)
    at.number_input(key="move_lon_CA-303").set_value(0.0)
    at.button(key="FormSubmitter:move_asset-Move asset").click().run()
    assert "Not saved" in _text(at.error) and ("lat" in _text(at.error) or "lon" in _text(at.error))
    assert not (Path(os.environ["EV_STATE_DIR"]) / "site.json").exists()


def test_a_refused_chain_write_saves_nothing(monkeypatch):
    at = _page()
    from engine.ledger import LedgerError
    from pages import ui

    assert ui.chain().ensure_synced()

    def refuse(*_a, **_k):
        raise LedgerError("set_threshold reverted", reason="threshold out of range")

    monkeypatch.setattr(type(ui.chain().ledger), "set_threshold", refuse)
    at.number_input(key="thr_kw").set_value(21.0)
    at.button(key="FormSubmitter:threshold-Set threshold").click().run()
    assert "the chain refused set_threshold: threshold out of range" in _text(at.error)
    assert not (Path(os.environ["EV_STATE_DIR"]) / "site.json").exists()  # the file and SC1 agree


def test_the_move_form_shows_the_picked_asset_s_coordinates(chain_off):
    at = _page()
    from pages import ui

    site = ui.site_store().site()
    first = at.selectbox(key="move_id").value
    picks = [a.id for a in site.assets if a.id != first][::9][:4]
    assert len(picks) == 4 and len({(site.asset(i).lat, site.asset(i).lon) for i in picks}) == 4
    for aid in picks:
        at.selectbox(key="move_id").set_value(aid).run()
        a = site.asset(aid)
        assert at.number_input(key=f"move_lat_{aid}").value == pytest.approx(a.lat, abs=1e-9)
        assert at.number_input(key=f"move_lon_{aid}").value == pytest.approx(a.lon, abs=1e-9)
