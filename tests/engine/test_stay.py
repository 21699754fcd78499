"""Likely stays learned from stated against actual departures (engine.promises.stay), and how the
control loop and the replay's mpc plan by them (never a promise)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.optimize.scenario import CabinetSpec, ChargePointSpec, Scenario
from engine.promises import PastSession, StayModel
from engine.replay.kpi import session_met
from engine.replay.loader import load_window
from engine.replay.mpc import ModelPredictive
from engine.replay.problem import ReplayError, ReplayProblem
from engine.replay.simulate import ReplayConfig, build_problem, simulate
from engine.runtime.controller import CarState, session_spec
from engine.runtime.journal import SessionRecord
from engine.runtime.loop import ControlLoop

TZ = ZoneInfo("America/Los_Angeles")
WED = datetime(2019, 5, 8, tzinfo=TZ)  # a Wednesday


def _at(day: datetime, h: float) -> datetime:
    return day + timedelta(hours=h)


def _said(day: datetime, arrive: float, said: float, left: float) -> PastSession:
    return PastSession(_at(day, arrive), _at(day, left), 5.0, _at(day, said))


def test_the_likely_overstay_is_a_quantile_of_past_ones_by_arrival_hour_and_stated_stay():
    days = [WED - timedelta(days=k) for k in (1, 2, 5, 6, 7)]  # Tue, Mon, Thu, Wed, Tue: weekdays
    # 08:xx arrivals saying 2 h stayed 9 h (and one 3 h); 13:xx arrivals saying 2 h left on time
    history = [_said(d, 8.0, 10.0, 17.0) for d in days] + [_said(days[0], 8.5, 10.5, 11.5)]
    history += [_said(d, 13.0, 15.0, 15.0) for d in days]
    history += [_said(WED - timedelta(days=3), 8.0, 10.0, 23.0)] * 5  # a Sunday: another kind of day
    history += [_said(WED, 7.0, 9.0, 23.0)] * 5  # today: never used
    history += [PastSession(_at(days[0], 8.0), _at(days[0], 20.0), 5.0)] * 5  # no stated departure
    now = _at(WED, 9.0)
    m = StayModel.from_history(history, now, quantile=0.75)
    assert m.sessions == 11
    assert m.by_hour_and_stated[(8, 2)] == pytest.approx(7.0)  # 6 overstays: 1, 7 x 5
    assert m.likely_departure(_at(WED, 8.25), _at(WED, 10.25)) == _at(WED, 17.25)
    assert m.likely_departure(_at(WED, 13.0), _at(WED, 15.0)) == _at(WED, 15.0)  # they leave on time
    # an hour without enough history: the stated-stay group (all 2 h statements: 11 stays)
    assert m.likely_departure(_at(WED, 11.0), _at(WED, 13.0)) == _at(WED, 13.0) + timedelta(
        hours=float(np.quantile([1.0] + [7.0] * 5 + [0.0] * 5, 0.75)))
    # no group at all (a 6 h statement): the stated departure; never earlier than stated
    assert m.likely_departure(_at(WED, 8.0), _at(WED, 14.0)) == _at(WED, 14.0)
    assert StayModel.from_history(history, now, quantile=0.1).likely_departure(_at(WED, 13.0), _at(WED, 15.0)) \
        == _at(WED, 15.0)
    assert StayModel.from_history([], now).likely_departure(_at(WED, 8.0), _at(WED, 10.0)) == _at(WED, 10.0)
    with pytest.raises(ValueError, match="quantile"):
        StayModel.from_history(history, now, quantile=1.0)


T0 = datetime(2026, 5, 6, 8, 0, tzinfo=timezone.utc)


def _scenario(now, specs, uncontrolled_kw):
    horizon = max([1] + [s.departure_step for s in specs])
    return Scenario(step_minutes=15, horizon_steps=horizon, price_per_kwh=np.zeros(horizon),
                    cabinets=(CabinetSpec(id="C", threshold_kw=6.6),),
                    charge_points=tuple(ChargePointSpec(id=s.cp, cabinet="C", rated_kw=6.6) for s in specs))


def _car(sid: str, stated_h: float, need: float, promised: float = 0.0, likely_h: float | None = None) -> CarState:
    s = SessionRecord(id=sid, cp=f"cp-{sid}", cabinet="C", arrival=T0, departure=T0 + timedelta(hours=stated_h),
                      requested_kwh=need, guaranteed_kwh=promised)
    return CarState(s, rated_kw=6.6, likely_departure=None if likely_h is None else T0 + timedelta(hours=likely_h))


def test_a_car_never_promised_is_planned_by_its_likely_departure_a_promised_one_by_its_stated():
    assert session_spec(_car("a", 2.0, 10.0, likely_h=9.0), T0, 15, 96).departure_step == 36
    assert session_spec(_car("a", 2.0, 10.0), T0, 15, 96).departure_step == 8
    # promised (now or before): the stated departure, for the promise and for the rest after it
    assert session_spec(_car("a", 2.0, 10.0, promised=4.0, likely_h=9.0), T0, 15, 96, margin=False).departure_step == 8
    kept = _car("a", 2.0, 10.0, promised=4.0, likely_h=9.0)
    kept.delivered_kwh = 4.0
    sp = session_spec(kept, T0 + timedelta(hours=1), 15, 96)
    assert not sp.guaranteed and sp.departure_step == 4


def test_the_loop_serves_first_the_car_that_really_leaves_first():
    """One car at a time (6.6 kW). At 08:00 car a (said 08:30, 3.3 kWh) and car b (said 09:00,
    3.3 kWh): both fit only if b goes first, since a, as the history says of such drivers, stays
    until 12:00. By stated departures a goes first (and is then still there); by its likely
    departure b goes first and a charges after."""
    def first_hour(a: CarState) -> dict[str, float]:
        b = _car("b", 1.0, 3.3)
        d = ControlLoop(15, margin=False, overdue_first=True).plan("C", T0, [a, b], _scenario)
        return {k: float(v[:2].sum() * 0.25) for k, v in d.power_kw.items()}

    stated = first_hour(_car("a", 0.5, 3.3))
    learned = first_hour(_car("a", 0.5, 3.3, likely_h=4.0))
    assert stated["a"] == pytest.approx(3.3, abs=1e-6) and stated["b"] == pytest.approx(0.0, abs=1e-6)
    assert learned["b"] == pytest.approx(3.3, abs=1e-6) and learned["a"] == pytest.approx(0.0, abs=1e-6)


def test_mpc_plans_cars_promised_nothing_by_their_learned_stay_and_never_promises_them():
    """History: drivers arriving at 08:15 and saying 30 min stayed 4 h. Today car p is promised the
    whole capacity until 09:00; car a, arriving at 08:15 and saying 08:45, is promised nothing:
    with ``stay="learned"`` it is planned until 12:15 (not overdue at 08:45), never promised, and
    still served in full after p; every promise kept."""
    T = 24
    history = tuple(_said(WED - timedelta(days=7 * k), 8.25, 8.75, 12.25) for k in (1, 2, 3, 4, 5))
    pr = ReplayProblem(
        step_minutes=15, horizon_steps=T, threshold_kw=6.6, max_kw=np.full(2, 6.6),
        arrival_step=np.array([0, 1]), departure_step=np.array([4, 16]), deadline_step=np.array([4, 3]),
        demand_kwh=np.array([6.6, 3.3]), price_per_kwh=np.zeros(T), session_ids=["p", "a"],
        start=_at(WED, 8.0), history=history,
    )
    for stay, learned, deadline in (("stated", set(), 3), ("learned", {1}, 17)):
        m = ModelPredictive(stay=stay)
        power, _ = simulate(pr, m)
        e = power.sum(axis=1) * pr.dt_hours
        assert m.promised_kwh.tolist() == [pytest.approx(6.6), 0.0] and m.learned == learned
        assert m.plan_deadline[1] == deadline and m.upgrades == 0
        assert np.all(e >= m.promised_kwh - 1e-3) and power.sum(axis=0).max() <= 6.6 + 1e-6
        assert session_met(pr.demand_kwh, e).all()
    with pytest.raises(ReplayError, match="stay"):
        ModelPredictive(stay="guess")


def test_the_replay_tells_the_stay_model_the_departures_the_drivers_told():
    """Actual departures: each past session's told departure is its real one (the model learns
    nothing to add); stated ones: what its driver said, and nothing without driver input."""
    w = load_window(None, "2019-05-06")
    actual = build_problem(w, ReplayConfig(threshold_kw=25.0)).history
    assert actual and all(h.stated_departure == h.departure for h in actual)
    said = {h.arrival: h for h in w.history}
    for h in build_problem(w, ReplayConfig(threshold_kw=25.0, departure="estimated")).history:
        r = said[h.arrival]
        assert h.stated_departure == (r.estimated_departure if r.claimed else None)
    assert StayModel.from_history(actual, w.start).likely_departure(w.start, w.start + timedelta(hours=1)) \
        == w.start + timedelta(hours=1)
