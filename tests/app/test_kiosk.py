"""pages/kiosk.py: the driver's need in, the quote's answer out, booking, status on chain, progress."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "kiosk.py")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")  # site local time; default departure 11:00


def _text(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _kiosk(cp: str | None = "CA-303", chain: bool = False, monkeypatch=None) -> AppTest:
    if not chain:
        monkeypatch.setenv("EV_CHAIN", "off")
    at = AppTest.from_file(PAGE, default_timeout=120)
    if cp:
        at.query_params["cp"] = cp
    at.run()
    assert not at.exception, at.exception
    return at


def _ask(at, how: str | None = None, **values) -> AppTest:
    if how is not None:
        at.radio(key="how").set_value(how).run()  # shows the inputs of that kind of need
    for key, v in values.items():
        at.number_input(key=key).set_value(v)
    at.button(key="FormSubmitter:need-Can my need be met?").click().run()
    assert not at.exception, at.exception
    return at


def test_feasible_quote(monkeypatch):
    at = _ask(_kiosk(monkeypatch=monkeypatch), energy_kwh=12.0)
    assert "Yes: your 12.0 kWh will be delivered by 11:00." in _text(at.success)
    assert at.button(key="confirm").label == "Confirm and start charging"


def test_infeasible_quote_says_how_much_and_how_long(monkeypatch):
    at = _ask(_kiosk(monkeypatch=monkeypatch), energy_kwh=40.0)
    text = _text(at.warning)
    # 3 h at the EVSE's 6.656 kW = 19.97 kWh; 40 kWh need about 6 h -> stay until 14:00 or a bit later
    assert "Only 20.0 kWh of your 40.0 kWh can be delivered by 11:00." in text
    assert "Stay until 14:15 for all of it." in text
    assert at.button(key="confirm").label == "Confirm: charge 20.0 kWh by 11:00"


def test_soc_need_is_converted(monkeypatch):
    at = _ask(_kiosk(monkeypatch=monkeypatch), how="Battery and state of charge", battery_kwh=50.0, soc_now=20.0,
              soc_target=50.0)
    assert "Yes: your 15.0 kWh will be delivered" in _text(at.success)


@pytest.mark.parametrize(
    "values, field",
    [({"energy_kwh": -5.0}, "energy_kwh"), ({"energy_kwh": 900.0}, "energy_kwh"),
     ({"how": "Battery and state of charge", "soc_now": 80.0, "soc_target": 60.0}, "soc_target_pct"),
     ({"how": "Battery and state of charge", "soc_now": -10.0}, "soc_now_pct"),
     ({"how": "Battery and state of charge", "battery_kwh": 0.0}, "battery_kwh")],
)
def test_bad_input_names_the_field(monkeypatch, values, field):
    at = _ask(_kiosk(monkeypatch=monkeypatch), **values)
    assert _text(at.error).startswith(f"{field}:")
    assert not at.success and not at.warning


def test_picker_without_cp_and_unknown_cp(monkeypatch):
    at = _kiosk(cp=None, monkeypatch=monkeypatch)
    assert at.selectbox(key="kiosk_cp").value is None and "CA-303" in at.selectbox(key="kiosk_cp").options
    at.selectbox(key="kiosk_cp").set_value("CA-148").run()
    assert "Charge point CA-148" in _text(at.subheader)
    at = _kiosk(cp="ZZ-9", monkeypatch=monkeypatch)
    assert _text(at.error) == "cp: unknown charge point 'ZZ-9'"


def test_booking_posts_the_status_on_chain_and_shows_progress(monkeypatch):
    at = _kiosk(chain=True, monkeypatch=monkeypatch)
    at = _ask(at, how="Battery and state of charge", battery_kwh=60.0, soc_now=30.0, soc_target=60.0)
    at.button(key="confirm").click().run()
    assert not at.exception, at.exception
    assert "Status posted on chain: `0x" in _text(at.success)
    assert "Charging at CA-303 until 11:00" in _text(at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Promised"] == "18.0 kWh" and metrics["State of charge"] == "30 %"
    assert float(metrics["Power now"].split()[0]) > 0
    assert "Charging" in _text(at.caption)
    from engine.ledger import Status
    from pages import ui

    rep = ui.chain().ledger.get_status("CA-303")
    assert rep.status == Status.CHARGING and rep.power_kw > 0
    # later: progress from the plan (the clock moved on)
    monkeypatch.setenv("EV_NOW", "2026-05-06T10:00:00")
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    delivered = float(metrics["Delivered"].split()[0])
    assert 5.0 < delivered <= 18.0
    assert metrics["State of charge"] == f"{30 + 100 * delivered / 60:.0f} %"
    assert at.get("plotly_chart")
    # after the departure the charge point is free again, on the page and on chain
    monkeypatch.setenv("EV_NOW", "2026-05-06T11:05:00")
    at.run()
    assert "Charge point CA-303" in _text(at.subheader)
    assert ui.chain().ledger.get_status("CA-303").status == Status.AVAILABLE
