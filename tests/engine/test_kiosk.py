"""engine.kiosk: SOC conversion, quotes and bookings over the sample site, progress, the journal."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.kiosk import Kiosk, KioskError, SessionBook, departure_at, energy_from_soc
from engine.ledger import Status
from engine.sitestore import SiteStore

TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=TZ)


@pytest.fixture
def kiosk(tmp_path):
    return Kiosk(SiteStore(tmp_path), SessionBook(tmp_path))


def test_energy_from_soc_and_errors():
    assert energy_from_soc(60, 30, 80) == pytest.approx(30.0)
    for args, field in [((0, 30, 80), "battery_kwh"), ((60, -1, 80), "soc_now_pct"), ((60, 30, 101), "soc_target_pct"),
                        ((60, 80, 30), "soc_target_pct"), (("x", 30, 80), "battery_kwh")]:
        with pytest.raises(KioskError, match=rf"^{field}:"):
            energy_from_soc(*args)


def test_departure_at_rolls_over_midnight():
    assert departure_at(NOW, time(11, 0)) == NOW.replace(hour=11)
    assert departure_at(NOW, time(7, 0)) == NOW.replace(hour=7) + timedelta(days=1)


def test_quote_feasible_and_not(kiosk):
    q = kiosk.quote("CA-303", NOW + timedelta(hours=3), 10.0, NOW)
    assert q.feasible and q.max_kwh == pytest.approx(10.0) and q.cabinet == "AB-PANEL"
    q = kiosk.quote("CA-303", NOW + timedelta(hours=3), 40.0, NOW)
    assert not q.feasible
    assert q.max_kwh == pytest.approx(6.656 * 3, rel=1e-4)  # the EVSE's rating x 3 h
    assert q.earliest_departure is not None
    assert NOW + timedelta(hours=40 / 6.656) <= q.earliest_departure <= NOW + timedelta(hours=40 / 6.656, minutes=30)


@pytest.mark.parametrize(
    "cp, hours, kwh, field",
    [("XX-1", 3, 10, "cp"), ("PV-N1", 3, 10, "cp"), ("CA-303", 3, -5, "energy_kwh"), ("CA-303", 3, 500, "energy_kwh"),
     ("CA-303", 0.1, 10, "departure"), ("CA-303", 30, 10, "departure")],
)
def test_bad_requests_name_the_field(kiosk, cp, hours, kwh, field):
    with pytest.raises(KioskError, match=rf"^{field}:"):
        kiosk.quote(cp, NOW + timedelta(hours=hours), kwh, NOW)


def test_booking_guarantees_and_progress(kiosk, tmp_path):
    dep = NOW + timedelta(hours=4)
    s1, q1, reports = kiosk.book("CA-303", dep, 20.0, NOW, battery_kwh=60.0, soc_now_pct=30.0, soc_target_pct=63.3)
    assert q1.feasible and s1.guaranteed_kwh == pytest.approx(20.0)
    assert [(r.asset_id, r.status) for r in reports] == [("CA-303", Status.CHARGING)]
    assert 0 < reports[0].power_kw <= 6.656 + 1e-6
    with pytest.raises(KioskError, match="^cp: CA-303 is in use"):
        kiosk.quote("CA-303", dep, 5.0, NOW)
    # the cabinet (16.72 kW minus lighting and ventilation) cannot run two more cars at full rate:
    # the guarantee of s1 holds, the next drivers get less than they ask
    s2, q2, _ = kiosk.book("CA-308", dep, 26.0, NOW)
    q3 = kiosk.quote("CA-508", dep, 26.0, NOW)
    assert not q3.feasible and q3.max_kwh < 26.0
    later = NOW + timedelta(hours=2)
    p1 = kiosk.progress(s1.id, later)
    assert 0 < p1.delivered_kwh <= 20.0 + 1e-6
    assert p1.soc_pct == pytest.approx(30.0 + 100 * p1.delivered_kwh / 60.0)
    end = kiosk.progress(s1.id, dep + timedelta(minutes=5))
    assert end.delivered_kwh == pytest.approx(20.0, abs=1e-3)
    assert end.status == Status.AVAILABLE
    assert end.energy_kwh[-1] == pytest.approx(20.0, abs=1e-3) and end.times[0] == NOW
    assert kiosk.progress(s2.id, dep).delivered_kwh == pytest.approx(s2.guaranteed_kwh, abs=1e-3)
    # the journal survives a restart (a new Kiosk over the same folder) and ignores a torn line
    with open(tmp_path / "sessions.jsonl", "a") as f:
        f.write('{"id": "torn')
    again = Kiosk(SiteStore(tmp_path), SessionBook(tmp_path))
    assert [s.id for s in again.book_.sessions()] == [s1.id, s2.id]
    assert again.session_on("CA-303", later).id == s1.id
    assert again.session_on("CA-303", dep) is None
    assert {r.asset_id: r.status for r in again.statuses("AB-PANEL", dep)} == {"CA-303": Status.AVAILABLE,
                                                                               "CA-308": Status.AVAILABLE}


def test_rebooking_keeps_what_was_delivered(kiosk):
    dep = NOW + timedelta(hours=6)
    s1, _, _ = kiosk.book("CA-303", dep, 30.0, NOW)
    mid = NOW + timedelta(hours=2)
    before = kiosk.progress(s1.id, mid).delivered_kwh
    kiosk.book("CA-308", dep, 30.0, mid)  # re-plans the cabinet from `mid` on
    after = kiosk.progress(s1.id, mid)
    assert after.delivered_kwh == pytest.approx(before, abs=0.5)
    assert kiosk.progress(s1.id, dep).delivered_kwh == pytest.approx(30.0, abs=1e-3)


def test_status_changes_follow_the_plan(kiosk):
    dep = NOW + timedelta(hours=2)
    s1, _, reports = kiosk.book("CA-303", dep, 5.0, NOW)
    chain = {r.asset_id: r for r in reports}
    assert kiosk.status_changes(NOW, chain) == []  # the chain already shows the plan
    after = kiosk.status_changes(dep + timedelta(minutes=1), chain)
    assert [(r.asset_id, r.status) for r in after] == [("CA-303", Status.AVAILABLE)]
    assert kiosk.status_changes(NOW, {}) == reports  # never posted
    assert kiosk.cps_with_sessions() == ["CA-303"]
