"""The one control loop (engine.runtime.loop): when it re-plans, and its two settings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from engine.optimize.scenario import CabinetSpec, ChargePointSpec, Scenario
from engine.replay.loader import load_window
from engine.replay.mpc import ModelPredictive
from engine.replay.simulate import ReplayConfig, build_problem, simulate
from engine.runtime.controller import CarState
from engine.runtime.journal import SessionRecord
from engine.runtime.loop import ControlLoop

T0 = datetime(2026, 5, 6, 8, 0, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)


def scenario(now, specs, uncontrolled_kw):
    horizon = max([1] + [s.departure_step for s in specs])
    return Scenario(step_minutes=5, horizon_steps=horizon, price_per_kwh=np.zeros(horizon),
                    cabinets=(CabinetSpec(id="C", threshold_kw=11.0),),
                    charge_points=tuple(ChargePointSpec(id=s.cp, cabinet="C", rated_kw=7.0) for s in specs))


def car(sid="a", promised=5.0, need=10.0, hours=2.0):
    s = SessionRecord(id=sid, cp=f"cp-{sid}", cabinet="C", arrival=T0, departure=T0 + timedelta(hours=hours),
                      requested_kwh=need, guaranteed_kwh=promised)
    return CarState(s, rated_kw=7.0)


def test_the_loop_replans_on_its_own_rules_and_on_marks():
    loop = ControlLoop(5, margin=False)
    c = car()
    assert loop.due("C", T0, [c]) and not loop.due("C", T0, [])  # cars and no plan
    d = loop.step("C", T0, [c], scenario)
    assert d is not None and d.guaranteed == {"a"} and loop.decisions["C"] is d
    assert all(max(sp.schedule_kw) <= float(d.power_kw["a"].max()) + 1e-12 for sp in d.setpoints)
    later = T0 + 3 * STEP
    c.delivered_kwh = 1.0
    assert not loop.due("C", later, [c]) and loop.step("C", later, [c], scenario) is None
    c.delivered_kwh = 5.0  # the promise is kept, half the need is left: best effort from now
    assert loop.due("C", later, [c])
    d2 = loop.step("C", later, [c], scenario)
    assert d2.guaranteed == frozenset()
    assert not loop.due("C", later + STEP, [c])
    past = c.session.departure + STEP  # still plugged in after its stated departure, need left
    assert loop.due("C", past, [c])
    loop.mark("C")
    assert loop.due("C", later + STEP, [c])
    assert loop.step("C", later + STEP, [], scenario) is None and "C" not in loop.decisions  # no car: no plan
    assert not loop.dirty


def test_a_promise_is_planned_by_the_margin_deadline_or_by_the_stated_departure():
    live = ControlLoop(5).plan("C", T0, [car(promised=10.0)], scenario)
    exact = ControlLoop(5, margin=False).plan("C", T0, [car(promised=10.0)], scenario)
    # a 2 h stay: the live site's promise is complete 24 min (20 %) before the stated departure
    assert exact.import_kw.size == 24 and live.import_kw.size == 20
    assert exact.power_kw["a"].sum() * 5 / 60 == pytest.approx(10.0, abs=1e-6)
    assert live.power_kw["a"].sum() * 5 / 60 == pytest.approx(10.0, abs=1e-6)


def test_the_replays_mpc_runs_the_loop():
    pr = build_problem(load_window(None, "2019-05-06"), ReplayConfig(threshold_kw=25.0))
    m = ModelPredictive()
    power, _ = simulate(pr, m)
    assert isinstance(m.loop, ControlLoop) and not m.loop.margin
    assert m.replans > 0 and power.sum(axis=0).max() <= 25.0 + 1e-6
    got = power.sum(axis=1) * pr.dt_hours
    assert np.all(got >= m.promised_kwh - 1e-3)  # every promise kept through the loop's plans
