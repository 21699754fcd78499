"""pages/cockpit.py: cabinets and charge points from the runtime, the threshold control, sign-in."""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.ledger import LedgerError, StatusReport, TxReceipt
from tests.app.conftest import sign_in
from tests.runtime.fakes import FakeLedger

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "cockpit.py")
APP = str(ROOT / "app.py")
CABINETS = ["CC-POD", "AV-POD", "AB-PANEL", "BC-NORTH", "BC-SOUTH", "CA-WEST", "CA-EAST"]


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setenv("EV_NOW", "2026-05-06T08:00:00")


def _text(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _cockpit(signed: bool = True) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if signed:
        sign_in(at)
    at.run()
    assert not at.exception, at.exception
    return at


def _cp_rows(at) -> dict:
    rows = {}
    for df in at.dataframe:
        v = df.value
        if "charge point" in v.columns:
            rows.update({r["charge point"]: r for r in v.to_dict("records")})
    return rows


def _overview(at) -> dict:
    v = next(df.value for df in at.dataframe if "headroom [kW]" in df.value.columns)
    return {r["cabinet"]: r for r in v.to_dict("records")}


class ChainDouble(FakeLedger):
    """The chain as the chain service sees it: answers, holds the statuses it mined, and SC1
    writes that either go through or are refused (a revert with the contract's reason)."""

    mode = "double"
    refuse: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: dict[str, float] = {}

    def ping(self) -> bool:
        return True

    def sync_site(self, site, progress=None) -> None:
        pass

    def get_statuses(self, ids):
        last = {r.asset_id: r for r in self.events}
        return {i: (StatusReport(i, last[i].status, last[i].power_kw, last[i].energy_kwh, 1) if i in last else None)
                for i in ids}

    def set_threshold(self, cabinet_id: str, threshold_kw: float) -> TxReceipt:
        if self.refuse:
            raise LedgerError("execution reverted", reason=self.refuse)
        self.thresholds[cabinet_id] = threshold_kw
        self.block += 1
        return TxReceipt("0x" + "ab" * 32, self.block, 30_000)


@pytest.fixture
def chain(monkeypatch):
    """The app's chain service connects to a :class:`ChainDouble`."""
    double = ChainDouble()
    monkeypatch.setattr("contracts.ledger.Ledger.connect", staticmethod(lambda **kw: double))
    return double


@pytest.fixture
def chain_off(monkeypatch):
    monkeypatch.setenv("EV_CHAIN", "off")


def _set_threshold(at, cabinet: str, kw: float) -> AppTest:
    at.selectbox(key="ck_thr_cabinet").set_value(cabinet).run()  # shows that cabinet's threshold
    box = at.number_input(key=f"ck_thr_kw_{cabinet}")
    assert box.value == pytest.approx(_overview(at)[cabinet]["threshold [kW]"])
    box.set_value(kw)
    at.button(key="FormSubmitter:cockpit_threshold-Set threshold").click().run()
    assert not at.exception, at.exception
    return at


def _site_file() -> Path:
    return Path(os.environ["EV_STATE_DIR"]) / "site.json"


def test_signed_in_shows_every_cabinet_and_a_booked_charge_points_power(chain_off):
    at = _cockpit()
    assert [t.value for t in at.title] == ["Cockpit"]
    heads = _text(at.subheader)
    assert all(f"{c} - " in heads for c in CABINETS)
    assert len(at.get("plotly_chart")) == 2 * len(CABINETS)  # a load stack and a gauge per cabinet
    assert _cp_rows(at)["CA-303"]["power [kW]"] == 0 and _cp_rows(at)["CA-303"]["promise"] == ""
    from pages import ui

    now = ui.now()
    s, _ = ui.kiosk().book("CA-303", now + timedelta(hours=3), 12.0, now)
    ui.runtime().tick()  # the loop plugs the simulated car in and applies its limit
    ui.runtime().tick()  # it charges
    at.run()
    assert not at.exception, at.exception
    row = _cp_rows(at)["CA-303"]
    power = ui.runtime().readings["CA-303"].power_kw
    assert power > 0 and row["power [kW]"] == pytest.approx(power, abs=0.01)
    assert row["rated [kW]"] == pytest.approx(6.656) and row["of rated [%]"] == pytest.approx(100 * power / 6.656, abs=0.1)
    assert row["status"] == "Charging" and row["guaranteed [kWh]"] == pytest.approx(s.guaranteed_kwh, abs=0.01)
    assert row["departure"] == "11:00" and row["promise"] == "on track"
    ab = _overview(at)["AB-PANEL"]
    assert ab["sessions"] == 1 and ab["EVs [kW]"] == pytest.approx(power, abs=0.01)
    assert ab["import [kW]"] <= ab["threshold [kW]"] and ab["threshold [kW]"] == pytest.approx(16.72)
    assert "No alarms." in _text(at.success)
    gauge = json.loads(at.get("plotly_chart")[5].proto.spec)  # AB-PANEL's gauge (third cabinet)
    assert gauge["data"][0]["gauge"]["threshold"]["value"] == pytest.approx(16.72)
    assert gauge["data"][0]["value"] == pytest.approx(ab["import [kW]"], abs=0.01)


def test_the_chain_status_and_its_age_are_shown(chain):
    at = _cockpit()
    from pages import ui

    now = ui.now()
    ui.kiosk().book("CA-303", now + timedelta(hours=3), 12.0, now)
    rt = ui.runtime()
    rt.tick()  # plugged in (Preparing), its limit applied
    rt.tick()  # charging
    rt.flush()  # posted to the chain double
    at.run()
    row = _cp_rows(at)["CA-303"]
    assert row["SC2 status"] == "Charging" and row["SC2 power [kW]"] > 0
    assert row["SC2 age"].endswith("h")  # the double's block timestamp is 1 (1970)
    assert any("CA-303: SC2 status is" in m for m in [e.value for e in at.warning])  # stale telemetry


def test_a_threshold_the_chain_refuses_leaves_the_site_file_unchanged(chain):
    chain.refuse = "threshold: above the registry's limit"
    at = _cockpit()
    _set_threshold(at, "CC-POD", 99_000.0)
    err = _text(at.error)
    assert "Not saved" in err and "threshold: above the registry's limit" in err
    assert not _site_file().exists()  # nothing saved: still the shipped site
    from pages import ui

    assert ui.site_store().site().cabinet("CC-POD").threshold_kw == pytest.approx(16.64)
    assert _overview(at)["CC-POD"]["threshold [kW]"] == pytest.approx(16.64)
    assert chain.thresholds == {}


def test_a_threshold_written_to_sc1_is_saved_and_shows_its_tx(chain):
    at = _cockpit()
    from pages import ui

    assert ui.chain().ensure_synced()  # the site is on the chain (the outbox thread does it too)
    _set_threshold(at, "CC-POD", 20.0)
    assert "written to SC1 in tx `0xabab" in _text(at.success), _text(at.error)
    assert chain.thresholds == {"CC-POD": 20.0}
    saved = json.loads(_site_file().read_text())
    assert saved["cabinets"][0]["threshold_kw"] == 20.0
    assert _overview(at)["CC-POD"]["threshold [kW]"] == 20.0
    assert not ui.chain().pending_edits  # the chain holds the edit


def test_a_threshold_while_the_chain_does_not_answer_is_saved_and_pending(monkeypatch):
    def down(**kw):
        raise ConnectionError("node at 127.0.0.1:1 refused the connection")

    monkeypatch.setattr("contracts.ledger.Ledger.connect", staticmethod(down))
    at = _cockpit()
    _set_threshold(at, "AB-PANEL", 18.0)
    warn = _text(at.warning)
    assert "**pending**" in warn and "refused the connection" in warn
    assert json.loads(_site_file().read_text())["cabinets"][2]["threshold_kw"] == 18.0
    assert any("The chain does not answer" in e.value for e in at.error)  # the chain alarm


def test_an_invalid_threshold_names_the_field_and_saves_nothing(chain):
    at = _cockpit()
    _set_threshold(at, "CC-POD", 0.0)
    assert "Not saved" in _text(at.error) and "threshold_kw" in _text(at.error)
    assert not _site_file().exists() and chain.thresholds == {}


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # the default CPO page, gated in app.py
    return at.run()


def test_not_signed_in_shows_no_site_data(chain_off):
    for at in (_cockpit(signed=False), _app()):
        assert not at.exception, at.exception
        assert [t.value for t in at.title] == ["CPO sign-in"]
        assert len(at.dataframe) == 0 and not at.get("plotly_chart") and len(at.subheader) == 0
        everything = _text(at.markdown) + _text(at.caption) + _text(at.sidebar.markdown) + _text(at.sidebar.caption)
        assert "Caltech" not in everything and "CC-POD" not in everything and "kW" not in everything
        assert len(at.sidebar.children) == 0
        assert at.text_input(key="cpo_secret").label == "CPO password"


def test_a_charge_point_at_its_rating_is_not_shown_above_it(chain_off):
    at = _cockpit()
    from pages import ui

    now = ui.now()
    ui.kiosk().book("CA-303", now + timedelta(hours=3), 12.0, now)
    ui.runtime().tick()
    ui.runtime().tick()
    at.run()
    bar = next(e.proto.text for e in at.get("progress") if "CA-303" in e.proto.text)
    power = ui.runtime().readings["CA-303"].power_kw
    shown = float(bar.split("**CA-303** ")[1].split(" of 6.656 kW")[0])
    assert power > 0 and shown == pytest.approx(power, abs=5e-4), bar  # as precise as the rating
    assert shown <= 6.656  # never "6.66 of 6.656 kW" at the rating
    assert _cp_rows(at)["CA-303"]["power [kW]"] <= _cp_rows(at)["CA-303"]["rated [kW]"]


def _charging_and_posted(at: AppTest) -> dict:
    """Book CA-303 at the kiosk, let the runtime charge it and post its status; CA-303's row."""
    from pages import ui

    now = ui.now()
    ui.kiosk().book("CA-303", now + timedelta(hours=3), 12.0, now)
    rt = ui.runtime()
    rt.tick()  # plugged in, its limit applied
    rt.tick()  # charging
    rt.flush()  # posted to the chain double
    at.run()
    return _cp_rows(at)["CA-303"]


def test_sc2_holds_the_numbers_the_cockpit_shows(chain):
    at = _cockpit()
    row = _charging_and_posted(at)
    last = [e for e in chain.events if e.asset_id == "CA-303"][-1]
    assert row["SC2 status"] == "Charging" == row["status"]
    assert row["SC2 power [kW]"] == pytest.approx(last.power_kw) == pytest.approx(row["power [kW]"], abs=1e-3)
    assert row["SC2 energy [kWh]"] == pytest.approx(last.energy_kwh)
    assert row["SC2 energy [kWh]"] == pytest.approx(row["delivered [kWh]"], abs=0.01)


@pytest.mark.parametrize("power, rated, text", [
    (6.656, 6.656, "6.656 of 6.656 kW (100 %)"), (6.6559, 6.656, "6.656 of 6.656 kW (100 %)"),
    (4.0, 6.656, "4 of 6.656 kW (60 %)"), (3.25, 7.2, "3.2 of 7.2 kW (45 %)"), (0.0, 22.0, "0 of 22 kW (0 %)"),
    (-1e-4, 6.656, "0 of 6.656 kW (0 %)"),
])
def test_power_against_the_rating_reads_right(power, rated, text):
    from pages.ui import power_of_rating

    assert power_of_rating(power, rated) == text


class ChainAhead(ChainDouble):
    """A chain whose block clock runs ahead of the wall clock (the embedded chain mining more than
    a block a second): the statuses it holds were stamped 100 s 'in the future', and its head is
    25 min past them."""

    def get_statuses(self, ids):
        import time

        base = super().get_statuses(ids)
        return {i: (r if r is None else StatusReport(i, r.status, r.power_kw, r.energy_kwh, int(time.time()) + 100))
                for i, r in base.items()}

    def head_timestamp(self) -> int:
        import time

        return int(time.time()) + 100 + 25 * 60


def test_sc2_ages_count_on_the_chain_s_clock_when_it_runs_ahead(monkeypatch):
    double = ChainAhead()
    monkeypatch.setattr("contracts.ledger.Ledger.connect", staticmethod(lambda **kw: double))
    at = _cockpit()
    row = _charging_and_posted(at)
    assert row["SC2 status"] == "Charging"
    assert row["SC2 age"] == "25 min"  # not "0 s" (the wall clock is behind the status' block time)
    assert any("CA-303: SC2 status is" in m for m in [e.value for e in at.warning])  # stale telemetry
