"""engine.runtime.views: what the cockpit shows, from a runtime over the sample site."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from engine.ledger import Status, StatusReport
from engine.runtime.cars import Car
from engine.runtime.views import (
    STALE_AFTER,
    Alarm,
    CabinetView,
    ChargePointRow,
    LoadStack,
    alarms,
    cockpit_view,
    load_stack,
    planned_by,
)
from tests.runtime.conftest import NOW

WALL = 1_800_000_000.0  # a wall clock [s since epoch]


def _book(rig, cp, hours, kwh, *, car=None):
    at = rig.clock.now()
    s, _ = rig.kiosk.book(cp, at + timedelta(hours=hours), kwh, at, session_id=f"{cp}-{at:%H%M}")
    rig.chargers.plug(cp, car or Car(s.id, 60.0, 20.0, 7.2, departs_at=at + timedelta(hours=hours + 1)), at)
    rig.runtime.tick(at)
    return s


def _on_chain(rig, age_s=0.0):
    """The last status the fake chain mined per asset, stamped ``age_s`` before WALL."""
    out = {}
    for r in rig.ledger.events:
        out[r.asset_id] = StatusReport(r.asset_id, r.status, r.power_kw, r.energy_kwh, int(WALL - age_s))
    return out


def _view(rig, age_s=0.0, **kw):
    kw.setdefault("chain_mode", "fake")
    kw.setdefault("chain_answers", True)
    return cockpit_view(rig.runtime, _on_chain(rig, age_s), wall_now=WALL, **kw)


def _kinds(view):
    return sorted({(a.kind, a.subject) for a in view.alarms})


def test_a_charging_session_shows_its_power_promise_and_cabinet(rig):
    s = _book(rig, "CA-303", 3, 12.0)
    rig.run(30)
    v = _view(rig)
    rows = {r.cp: r for r in v.rows}
    assert len(rows) == len(rig.store.site().charge_points)
    r = rows["CA-303"]
    reading = rig.runtime.readings["CA-303"]
    assert r.power_kw == pytest.approx(reading.power_kw) and r.power_kw > 0
    assert r.rated_kw == pytest.approx(6.656) and r.load_pct == pytest.approx(100 * r.power_kw / 6.656)
    assert r.limit_kw is not None and r.power_kw <= r.limit_kw + 0.3
    assert r.status == Status.CHARGING and r.chain_status == Status.CHARGING and r.chain_age_s == 0
    assert r.session_id == s.id and r.guaranteed_kwh == pytest.approx(s.guaranteed_kwh)
    assert r.delivered_kwh == pytest.approx(rig.runtime.cars["CA-303"].delivered_kwh) and r.delivered_kwh > 0
    assert r.departure == s.departure
    assert r.planned_kwh is not None and r.planned_kwh >= s.guaranteed_kwh - 0.01 and not r.at_risk
    assert r.soc_pct is None  # neither the car nor the driver told it
    idle = rows["CA-308"]
    assert idle.session_id is None and idle.power_kw == 0 and idle.limit_kw is None
    cab = {c.id: c for c in v.cabinets}["AB-PANEL"]
    assert cab.sessions == 1 and cab.ev_kw == pytest.approx(r.power_kw)
    assert cab.import_kw == pytest.approx(cab.ev_kw + cab.other_kw + cab.battery_kw - cab.pv_kw)
    assert cab.import_kw <= cab.threshold_kw and cab.headroom_kw >= 0 and not cab.overloaded
    assert v.alarms == []


def test_load_stack_averages_the_journal_and_adds_the_plan(rig):
    s = _book(rig, "CA-303", 3, 12.0)
    rig.run(60)
    now = rig.clock.now()
    d = rig.runtime.decisions["AB-PANEL"]
    st = load_stack(rig.journal, rig.store.site(), "AB-PANEL", now, d, hours=2, bin_minutes=10)
    rows = rig.journal.loads("AB-PANEL", since=now - timedelta(hours=2))
    assert rows and st.times[0] >= now - timedelta(hours=2) and st.times[-1] <= now
    # the bins average the recorded rows: same time-weighted totals when every bin holds rows
    first = [r for r in rows if r["at"] < (st.times[0] + timedelta(minutes=10)).isoformat()]
    assert st.ev_kw[0] == pytest.approx(np.mean([r["ev_kw"] for r in first]))
    assert st.import_kw == pytest.approx(st.ev_kw + st.other_kw + st.battery_kw - st.pv_kw)
    assert st.threshold_now_kw == pytest.approx(16.72) and (st.threshold_kw == 16.72).all()
    assert st.peak_import_kw <= 16.72 + 1e-6
    # the plan ahead: EVs = the sessions' segments, import as planned
    seg = d.segments[s.id]
    assert st.plan_times[0] == d.start and len(st.plan_times) == d.import_kw.size
    assert st.plan_ev_kw[: len(seg["power_kw"])] == pytest.approx(seg["power_kw"][: d.import_kw.size])
    assert st.plan_import_kw == pytest.approx(d.import_kw)
    assert st.plan_other_kw.min() > 0  # AB-PANEL's lights and ventilation
    assert st.plan_import_kw == pytest.approx(st.plan_ev_kw + st.plan_other_kw + st.plan_battery_kw
                                              - st.plan_pv_kw, abs=1e-3)


def test_no_history_and_no_plan(rig):
    st = load_stack(rig.journal, rig.store.site(), "CC-POD", rig.clock.now(), None)
    assert st.times == [] and st.plan_times == [] and st.peak_import_kw == 0.0


def test_planned_by():
    seg = {"start": NOW.isoformat(), "step_minutes": 15, "base_kwh": 1.0, "power_kw": [4.0, 4.0, 0.0, 2.0]}
    assert planned_by(seg, NOW - timedelta(minutes=5)) == 1.0
    assert planned_by(seg, NOW + timedelta(minutes=15)) == pytest.approx(2.0)
    assert planned_by(seg, NOW + timedelta(minutes=22, seconds=30)) == pytest.approx(2.5)
    assert planned_by(seg, NOW + timedelta(hours=5)) == pytest.approx(1.0 + 2.0 + 0.5)
    assert planned_by(None, NOW) is None


def test_a_threshold_below_the_other_load_overloads_and_puts_the_promise_at_risk(rig):
    _book(rig, "CA-303", 3, 12.0)
    rig.run(10)
    rig.store.update(lambda s: s.with_threshold("AB-PANEL", 1.0))  # the lights alone draw more
    rig.runtime.replan("AB-PANEL")
    rig.run(10)
    v = _view(rig)
    r = {x.cp: x for x in v.rows}["CA-303"]
    assert r.at_risk and r.planned_kwh is not None and r.planned_kwh < r.guaranteed_kwh
    cab = {c.id: c for c in v.cabinets}["AB-PANEL"]
    assert cab.overloaded and cab.overload_kwh > 0 and not cab.guarantees_met
    assert ("overload", "AB-PANEL") in _kinds(v) and ("promise_at_risk", "CA-303") in _kinds(v)
    assert all(a.severity == "error" for a in v.alarms if a.kind in ("overload", "promise_at_risk"))
    msg = next(a.message for a in v.alarms if a.kind == "promise_at_risk")
    assert "guaranteed by" in msg and "the plan reaches" in msg


def test_stale_telemetry_only_while_a_session_runs(rig):
    _book(rig, "CA-303", 3, 12.0)
    rig.run(10)
    limit = STALE_AFTER.total_seconds()
    assert _kinds(_view(rig, age_s=limit - 60)) == []
    v = _view(rig, age_s=limit + 60)
    assert _kinds(v) == [("stale_telemetry", "CA-303")]  # idle charge points are not stale
    assert "21 min old" in v.alarms[0].message
    # an accelerated clock: a block 30 s old is 30 min of site time at x60
    rig.clock.speed = 60.0
    assert _kinds(_view(rig, age_s=30)) == [("stale_telemetry", "CA-303")]


def test_a_new_session_with_nothing_on_chain_is_not_stale_yet(rig):
    _book(rig, "CA-303", 3, 12.0)
    v = cockpit_view(rig.runtime, {}, wall_now=WALL, chain_mode="fake", chain_answers=True)
    assert _kinds(v) == []
    rig.run(30, flush=False)
    v = cockpit_view(rig.runtime, {}, wall_now=WALL, chain_mode="fake", chain_answers=True)
    assert _kinds(v) == [("stale_telemetry", "CA-303")]
    assert "holds no status" in v.alarms[0].message


def test_chain_down_says_how_many_statuses_wait(rig):
    _book(rig, "CA-303", 3, 12.0)
    rig.ledger.down = True
    rig.run(20)  # flushes fail: statuses pile up in the outbox
    pending = rig.journal.pending_count()
    assert pending > 0
    v = _view(rig, chain_answers=False)
    chain = [a for a in v.alarms if a.kind == "chain"]
    assert len(chain) == 1 and chain[0].severity == "error"
    assert f"{pending} statuses wait in the outbox" in chain[0].message and "fake outage" in chain[0].message
    assert v.outbox_pending == pending
    assert not [a for a in v.alarms if a.kind == "stale_telemetry"]  # the chain alarm says it
    # the chain answers again but the outbox has not caught up: a warning, with the reason
    v = _view(rig, chain_answers=True, chain_error="writing the site to SC1")
    chain = [a for a in v.alarms if a.kind == "chain"]
    assert chain[0].severity == "warning" and "takes no statuses yet (writing the site to SC1)" in chain[0].message
    # no chain at all: no chain or telemetry alarm
    assert [a for a in _view(rig, chain_mode="off", chain_answers=False).alarms if a.kind == "chain"] == []


def test_a_faulted_charge_point_is_an_alarm(rig):
    _book(rig, "CA-303", 4, 18.0)
    rig.run(10)
    rig.chargers.fault("CA-303", rig.clock.now(), minutes=60)
    rig.run(5)
    v = _view(rig)
    r = {x.cp: x for x in v.rows}["CA-303"]
    assert r.faulted and r.status == Status.FAULTED and r.power_kw == 0
    assert ("faulted", "CA-303") in _kinds(v)
    assert v.alarms[0].severity == "error"


def test_alarms_sort_errors_first_and_report_past_overload():
    now = NOW
    cab = CabinetView("X", "x", 10.0, 2.0, 1.0, 0.0, 0.0, 3.0, 0.5, 0, True, LoadStack("X"))
    row = ChargePointRow("CP", "X", 7.0, power_kw=9.0, session_id="s", uncontrolled=True,
                         chain_age_s=0.0, departure=now)
    al = alarms([cab], [row], chain_mode="rpc", chain_answers=False, chain_error=None, outbox_pending=3, now=now)
    assert [a.kind for a in al] == ["chain", "overload", "uncontrolled"]
    assert al[1] == Alarm("overload", "warning", "X",
                          "X went over its threshold: 0.50 kWh above it since start")
    assert "3 statuses wait" in al[0].message
