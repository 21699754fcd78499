"""OcppChargers with simulated OCPP charge points on loopback: the charger port's contract,
reconnects, faults, remote stop and a charge point that ignores its profile."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.ledger import Status
from engine.runtime.cars import Car
from engine.chargers import ChargerPort, EventKind, Setpoint
from engine.site.model import load_site
from gateway.ocpp16.csms import CentralSystem
from gateway.ocpp16.port import OcppChargers

SITE = load_site("data/site.json")
TZ = ZoneInfo(SITE.timezone)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
CP = SITE.charge_points[0].id  # rated 6.656 kW
CP2 = SITE.charge_points[1].id
STEP = timedelta(minutes=5)


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture()
def sim(tmp_path):
    clock = Clock(T0)
    p = OcppChargers(SITE, port=0, state_dir=tmp_path, simulate=True, clock=clock, sim_units={CP2: "A"}, timeout_s=10.0)
    p.events()  # the 54 CONNECTED
    p.tclock = clock
    yield p
    p.close()


def _step(p: OcppChargers, n: int = 1):
    for _ in range(n):
        p.tclock.t += STEP
    return p.read(p.tclock.t)


def _kinds(evs):
    return [(e.kind, e.cp) for e in evs]


def test_it_is_a_charger_port_and_all_charge_points_connect(sim):
    assert isinstance(sim, ChargerPort)
    conns = sim.connections()
    assert len(conns) == 54 and all(c.connected for c in conns.values())
    assert conns[CP2].unit == "A" and conns[CP].unit == "W"  # as each one declared
    r = sim.read(T0)
    assert all(x.status == Status.AVAILABLE and x.transaction is None for x in r.values())
    assert sim.ocpp_errors == 0


def test_a_session_follows_its_schedule_with_car_physics(sim):
    car = Car("sess-1", battery_kwh=40.0, soc_pct=70.0, max_kw=6.6, departs_at=T0 + timedelta(minutes=27), reports_soc=True)
    twin = copy.deepcopy(car)
    sim.plug(CP, car, T0)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.PLUGGED, CP)] and ev[0].transaction == "sess-1" and ev[0].at == T0
    sched = (6.0, 6.0, 2.0, 0.0, 5.0, 5.0, 5.0)
    sim.apply([Setpoint(CP, 6.0, T0, 5.0, sched)])
    expect = 0.0
    for k in range(5):
        r = _step(sim)[CP]
        expect += twin.charge(sched[k], 5 / 60)
        assert r.transaction == "sess-1"
        assert r.energy_kwh == pytest.approx(expect, abs=1e-4)
        assert r.soc_pct == pytest.approx(twin.soc_pct, abs=0.05)
        assert r.at == sim.tclock.t
        assert r.power_kw == pytest.approx(min(sched[k + 1], twin.accept_kw()), abs=1e-3)
        assert r.status == (Status.SUSPENDED_EVSE if sched[k + 1] == 0 else Status.CHARGING)
    # the car leaves at 8:27, between two reads
    r = _step(sim)[CP]
    expect += twin.charge(5.0, 2 / 60)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.UNPLUGGED, CP)]
    assert ev[0].at == T0 + timedelta(minutes=27) and ev[0].transaction == "sess-1"
    assert ev[0].detail["energy_kwh"] == pytest.approx(expect, abs=1e-6)  # from transactionData, not whole Wh
    assert r.transaction is None and r.power_kw == 0.0 and r.status == Status.AVAILABLE
    assert sim.ocpp_errors == 0


def test_profiles_in_amperes_for_a_charge_point_that_declares_current(sim):
    car = Car("sess-a", battery_kwh=60.0, soc_pct=20.0, max_kw=7.2)
    sim.plug(CP2, car, T0)
    sim.apply([Setpoint(CP2, 4.0, T0, 5.0, (4.0, 4.0))])
    scp = sim.sim.cps[CP2]
    assert scp.tx_profile is not None
    assert scp.tx_profile.kw[0] == pytest.approx(19.2 * 208 / 1000)  # 4000 W -> 19.2 A at 208 V
    r = _step(sim)[CP2]
    assert r.energy_kwh == pytest.approx(19.2 * 208 / 1000 / 12, abs=1e-4)
    assert r.power_kw <= 4.0


def test_a_plan_is_kept_until_a_car_arrives_and_sent_at_start(sim):
    sim.apply([Setpoint(CP, 1.5, T0, 5.0, (1.5, 1.5, 1.5))])
    car = Car("late", battery_kwh=60.0, soc_pct=20.0, max_kw=7.2)
    sim.tclock.t = T0 + STEP
    sim.plug(CP, car, sim.tclock.t)
    r = _step(sim)[CP]
    assert r.energy_kwh == pytest.approx(1.5 / 12, abs=1e-4)


def test_reconnect_resumes_the_transaction(sim):
    car = Car("sess-r", battery_kwh=60.0, soc_pct=20.0, max_kw=7.2)
    sim.plug(CP, car, T0)
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0,) * 12)])
    r0 = _step(sim)[CP]
    sim.events()
    sim.disconnect(CP)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.DISCONNECTED, CP)] and ev[0].transaction == "sess-r"
    assert not sim.connections()[CP].connected
    r1 = _step(sim, 2)[CP]
    assert r1.at == r0.at and r1.energy_kwh == r0.energy_kwh  # nothing heard meanwhile
    # a new plan while it is away: kept, and sent when it is back
    sim.apply([Setpoint(CP, 3.0, sim.tclock.t, 5.0, (3.0,) * 12)])
    assert sim.sim.cps[CP].tx_profile.kw[0] == pytest.approx(2.0)
    sim.reconnect(CP)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.CONNECTED, CP)] and ev[0].detail["reconnect"] is True
    assert ev[0].transaction == "sess-r"
    # the triggered MeterValues bring the energy charged while offline (2 kW kept for 10 min)
    r2 = sim.latest()[CP]  # before any further step
    assert r2.at == sim.tclock.t and r2.energy_kwh == pytest.approx(3 * 2.0 / 12, abs=1e-4)
    r2 = sim.read(sim.tclock.t)[CP]
    assert r2.transaction == "sess-r" and r2.at == sim.tclock.t
    assert r2.energy_kwh == pytest.approx(3 * 2.0 / 12, abs=1e-4)
    assert sim.sim.cps[CP].tx_profile.kw[0] == pytest.approx(3.0)
    r3 = _step(sim)[CP]
    assert r3.energy_kwh == pytest.approx(3 * 2.0 / 12 + 3.0 / 12, abs=1e-4)
    assert sim.ocpp_errors == 0


def test_a_car_that_leaves_while_offline_is_stopped_on_reconnect(sim):
    car = Car("sess-o", battery_kwh=60.0, soc_pct=20.0, max_kw=7.2, departs_at=T0 + timedelta(minutes=12))
    sim.plug(CP, car, T0)
    sim.apply([Setpoint(CP, 6.0, T0, 5.0, (6.0,) * 12)])
    sim.disconnect(CP)
    _step(sim, 3)
    assert [e.kind for e in sim.events() if e.kind == EventKind.UNPLUGGED] == []
    sim.reconnect(CP)
    sim.read(sim.tclock.t)
    ends = [e for e in sim.events() if e.kind == EventKind.UNPLUGGED]
    assert len(ends) == 1 and ends[0].transaction == "sess-o"
    assert ends[0].at == T0 + timedelta(minutes=12)
    assert ends[0].detail["energy_kwh"] == pytest.approx(6.0 * 12 / 60, abs=1e-6)
    assert sim.read(sim.tclock.t)[CP].transaction is None


def test_a_charge_point_above_its_limit_is_flagged_until_it_complies(sim):
    car = Car("sess-n", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6)
    sim.plug(CP, car, T0)
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0,) * 24)])
    _step(sim)
    assert [e.kind for e in sim.events()] == [EventKind.PLUGGED]
    sim.misbehave(CP, True)
    r = _step(sim)[CP]
    assert r.power_kw == pytest.approx(6.6)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.NONCOMPLIANT, CP)]
    assert ev[0].detail["limit_kw"] == pytest.approx(2.0) and ev[0].detail["power_kw"] == pytest.approx(6.6)
    assert ev[0].transaction == "sess-n"
    assert sim.connections()[CP].noncompliant
    _step(sim)
    assert sim.events() == []  # once per episode
    sim.misbehave(CP, False)
    _step(sim)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.RECOVERED, CP)] and ev[0].detail["reason"] == "compliant"
    assert not sim.connections()[CP].noncompliant


def test_fault_and_recovery(sim):
    car = Car("sess-f", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6)
    sim.plug(CP, car, T0)
    sim.apply([Setpoint(CP, 3.0, T0, 5.0, (3.0,) * 24)])
    e1 = _step(sim)[CP].energy_kwh
    sim.events()
    sim.fault(CP, sim.tclock.t)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.FAULT, CP)] and ev[0].detail["error_code"] == "OtherError"
    r = _step(sim)[CP]
    assert r.status == Status.FAULTED and r.power_kw == 0.0 and r.energy_kwh == pytest.approx(e1)
    assert r.transaction == "sess-f"  # the transaction stays open
    sim.recover(CP, sim.tclock.t)
    assert _kinds(sim.events()) == [(EventKind.RECOVERED, CP)]
    r = _step(sim)[CP]
    assert r.status == Status.CHARGING and r.energy_kwh == pytest.approx(e1 + 3.0 / 12, abs=1e-4)


def test_stop_ends_the_transaction_remotely(sim):
    sim.plug(CP, Car("sess-s", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.apply([Setpoint(CP, 3.0, T0, 5.0, (3.0,) * 24)])
    _step(sim)
    sim.events()
    sim.stop(CP)
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.UNPLUGGED, CP)] and ev[0].detail["reason"] == "stopped"
    assert ev[0].detail["ocpp_reason"] == "Remote"
    r = _step(sim)[CP]
    assert r.transaction is None and r.power_kw == 0.0
    assert r.status == Status.FINISHING  # the car is still there, the session is over
    sim.unplug(CP, sim.tclock.t)
    assert sim.read(sim.tclock.t)[CP].status == Status.AVAILABLE
    assert sim.events() == []  # no second UNPLUGGED


def test_change_availability_and_clear_profile(sim):
    assert sim.set_available(CP2, False) == "Accepted"
    assert sim.read(T0)[CP2].status == Status.UNAVAILABLE
    assert sim.set_available(CP2, True) == "Accepted"
    assert sim.read(T0)[CP2].status == Status.AVAILABLE
    sim.plug(CP, Car("sess-c", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.apply([Setpoint(CP, 1.0, T0, 5.0, (1.0,) * 24)])
    assert sim.clear_profile(CP) is True
    r = _step(sim)[CP]
    assert r.energy_kwh == pytest.approx(6.6 / 12, abs=1e-4)  # no limit: the car's maximum


def test_unknown_or_unchanged_plans(sim):
    sim.plug(CP, Car("sess-u", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0, 2.0, 2.0))])
    n = sim.ocpp_messages
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0, 2.0, 2.0))])  # the same plan: nothing sent
    assert sim.ocpp_messages == n
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0, 2.0, 1.0))])
    assert sim.ocpp_messages == n + 2  # one SetChargingProfile and its answer


def test_open_transactions_survive_a_central_system_restart(tmp_path):
    """Without simulation the open transactions are kept in the state folder."""
    evs = []
    f = tmp_path / "tx.json"
    c1 = CentralSystem(["A", "B"], {}, clock=lambda: T0, emit=evs.append, state_file=f)
    tx = c1.on_start(c1.states["A"], "TAG", 5000, "2026-03-02T16:00:00Z")
    c2 = CentralSystem(["A", "B"], {}, clock=lambda: T0, emit=evs.append, state_file=f)
    st = c2.states["A"]
    assert st.tx_id == tx and st.session == f"ocpp-{tx}" and st.meter_start_kwh == 5.0
    assert c2.on_start(c2.states["B"], "TAG", 0, "2026-03-02T16:01:00Z") == tx + 1  # ids are not reused
    c2.on_stop(st, 6000, "2026-03-02T17:00:00Z", tx, "Local")
    assert evs[-1].kind == EventKind.UNPLUGGED and evs[-1].detail["energy_kwh"] == pytest.approx(1.0)
    c3 = CentralSystem(["A", "B"], {}, clock=lambda: T0, emit=evs.append, state_file=f)
    assert c3.states["A"].tx_id is None and c3.states["B"].tx_id == tx + 1


def test_a_timed_fault_recovers_by_itself(sim):
    sim.plug(CP, Car("sess-t", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.apply([Setpoint(CP, 3.0, T0, 5.0, (3.0,) * 24)])
    sim.events()
    sim.fault(CP, T0, 7)  # the runtime's simulator's signature: minutes
    assert _kinds(sim.events()) == [(EventKind.FAULT, CP)]
    r = _step(sim)[CP]
    assert r.status == Status.FAULTED and r.energy_kwh == 0.0
    r = _step(sim)[CP]
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.RECOVERED, CP)] and ev[0].at == T0 + timedelta(minutes=7)
    assert r.status == Status.CHARGING and r.energy_kwh == pytest.approx(3.0 * 3 / 60, abs=1e-4)


def test_the_next_car_waits_for_its_own_plan(sim):
    sim.plug(CP, Car("first", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.apply([Setpoint(CP, 3.0, T0, 5.0, (3.0,) * 24)])
    _step(sim)
    sim.unplug(CP, sim.tclock.t)
    ev = sim.events()
    assert ev[-1].kind == EventKind.UNPLUGGED and ev[-1].detail["reason"] == "left"
    assert sim.car(CP) is None
    second = Car("second", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6)
    sim.plug(CP, second, sim.tclock.t)
    assert sim.car(CP) is second
    r = _step(sim)[CP]
    assert r.transaction == "second" and r.energy_kwh == 0.0  # TxDefaultProfile: 0 until planned
    assert r.status == Status.SUSPENDED_EVSE
    sim.apply([Setpoint(CP, 2.0, sim.tclock.t, 5.0, (2.0,))])
    assert _step(sim)[CP].energy_kwh == pytest.approx(2.0 / 12, abs=1e-4)


def test_plugging_an_occupied_charge_point_is_refused(sim):
    from engine.chargers import ChargerError

    sim.plug(CP, Car("one", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    with pytest.raises(ChargerError) as err:
        sim.plug(CP, Car("two", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    assert str(err.value) == f"cp: {CP} already has a car (one)"


def test_a_car_that_ignores_its_limit_is_flagged(sim):
    sim.plug(CP, Car("greedy", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0, ignore_limit=True)
    sim.apply([Setpoint(CP, 1.0, T0, 5.0, (1.0,) * 24)])
    _step(sim)
    ev = [e for e in sim.events() if e.kind == EventKind.NONCOMPLIANT]
    assert len(ev) == 1 and ev[0].transaction == "greedy" and ev[0].detail["power_kw"] == pytest.approx(6.6)


def test_plugged_tells_the_soc_when_the_car_does(sim):
    sim.plug(CP, Car("talks", battery_kwh=60.0, soc_pct=33.0, max_kw=6.6, reports_soc=True), T0)
    sim.plug(CP2, Car("mute", battery_kwh=60.0, soc_pct=33.0, max_kw=6.6), T0)
    ev = {e.transaction: e for e in sim.events()}
    assert ev["talks"].detail["soc_pct"] == 33.0
    assert ev["mute"].detail["soc_pct"] is None


def test_remote_start_opens_a_new_transaction_for_the_car_still_there(sim):
    sim.plug(CP, Car("first-tx", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6), T0)
    sim.stop(CP)
    assert [e.kind for e in sim.events()] == [EventKind.PLUGGED, EventKind.UNPLUGGED]
    assert sim.remote_start(CP2, "TAG") is False  # no car there
    assert sim.remote_start(CP, "TAG", session="second-tx") is True
    ev = sim.events()
    assert _kinds(ev) == [(EventKind.PLUGGED, CP)] and ev[0].transaction == "second-tx"
    assert ev[0].detail["id_tag"] == "TAG"
    sim.apply([Setpoint(CP, 2.0, T0, 5.0, (2.0,) * 3)])
    r = _step(sim)[CP]
    assert r.transaction == "second-tx" and r.energy_kwh == pytest.approx(2.0 / 12, abs=1e-6)


def test_a_whole_session_while_offline_is_delivered_on_reconnect(sim):
    sim.disconnect(CP)
    sim.events()
    sim.plug(CP, Car("ghost", battery_kwh=60.0, soc_pct=20.0, max_kw=6.6, departs_at=T0 + timedelta(minutes=9)), T0)
    _step(sim, 2)  # the car leaves at 8:09, all unseen
    assert sim.events() == []
    sim.reconnect(CP)
    ev = sim.events()
    assert [e.kind for e in ev] == [EventKind.CONNECTED, EventKind.PLUGGED, EventKind.UNPLUGGED]
    assert ev[1].transaction == ev[2].transaction == "ghost"
    assert ev[1].at == T0 and ev[2].at == T0 + timedelta(minutes=9)
    assert ev[2].detail["energy_kwh"] == 0.0  # the default profile: nothing before a plan
    assert sim.ocpp_errors == 0
