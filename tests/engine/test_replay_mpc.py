"""mpc on real Caltech days: the acceptance criteria, event re-planning, guarantees."""
from __future__ import annotations

import numpy as np
import pytest

from engine.replay.loader import load_window
from engine.replay.simulate import ReplayConfig, run_replay

DAY = "2019-05-06"  # a Monday, 38 sessions, 350 kWh delivered at the real site


@pytest.fixture(scope="module")
def day():
    return load_window(None, DAY)


@pytest.mark.parametrize("threshold", [25.0, 30.0, 40.0])
def test_mpc_beats_heuristics_and_is_near_offline(day, threshold):
    cfg = ReplayConfig(threshold_kw=threshold)
    res = {a: run_replay(day, a, cfg) for a in ("edf", "llf", "mpc", "offline")}
    mpc = res["mpc"].kpis
    for name in ("edf", "llf"):
        assert mpc["delivered_kwh"] >= res[name].kpis["delivered_kwh"] - 1e-3, (name, threshold)
    gap = res["offline"].kpis["energy_delivered_pct"] - mpc["energy_delivered_pct"]
    assert gap <= 0.5, f"mpc {gap:.2f} pp below offline at {threshold} kW"
    assert mpc["delivered_kwh"] <= res["offline"].kpis["delivered_kwh"] + 1e-3
    for r in res.values():
        assert r.kpis["overload_kwh"] == 0.0 and r.kpis["peak_kw"] <= threshold + 1e-6


def test_tight_day_separates_the_strategies(day):
    cfg = ReplayConfig(threshold_kw=30.0)
    k = {a: run_replay(day, a, cfg).kpis for a in ("uncontrolled", "round_robin", "edf", "mpc")}
    assert k["uncontrolled"]["overload_kwh"] > 50 and k["uncontrolled"]["energy_delivered_pct"] == 100.0
    assert k["round_robin"]["energy_delivered_pct"] < k["edf"]["energy_delivered_pct"] < k["mpc"]["energy_delivered_pct"]


@pytest.mark.parametrize("departure", ["actual", "estimated"])
def test_event_replanning_equals_replanning_every_step(departure):
    w = load_window(None, "2019-05-07")
    ev = run_replay(w, "mpc", ReplayConfig(threshold_kw=25.0, departure=departure, replan="events"))
    every = run_replay(w, "mpc", ReplayConfig(threshold_kw=25.0, departure=departure, replan="every"))
    assert len(every.solve_seconds) > 2 * len(ev.solve_seconds)  # really re-planned more often
    # the same energy, peak and overload; single cars may differ where the plan has ties (two
    # cars with one deadline), and what each car has got when the next driver arrives feeds the
    # admission: demands met may differ by one driver either way (2019-05-07 actual: one
    # 4.2 kWh driver admitted in one run and not in the other, the same total energy)
    for key in ("delivered_kwh", "peak_kw", "overload_kwh"):
        assert ev.kpis[key] == pytest.approx(every.kpis[key], abs=1e-3), key
    assert abs(ev.kpis["demands_met_pct"] - every.kpis["demands_met_pct"]) <= 100.0 / ev.problem.n + 1e-6
    assert np.abs(ev.delivered_kwh - every.delivered_kwh).max() < 4.0


def test_guarantees_hold_and_quotes_are_real(day):
    from engine.replay.mpc import ModelPredictive
    from engine.replay.simulate import build_problem, simulate

    pr = build_problem(day, ReplayConfig(threshold_kw=20.0))
    mpc = ModelPredictive()
    power, _ = simulate(pr, mpc)
    got = power.sum(axis=1) * pr.dt_hours
    assert mpc.quotes > 0 and mpc.replans > 0
    assert np.all(mpc.promised_kwh <= pr.demand_kwh + 1e-9)
    assert np.any(mpc.promised_kwh < pr.demand_kwh - 0.1)  # 20 kW is tight: some promises are partial
    assert np.all(got >= mpc.promised_kwh - 1e-3)  # every promise kept


def test_engine_split_is_worse_than_deadline_split():
    w = load_window(None, "2019-10-29")
    cfg = dict(threshold_kw=35.0)
    dl = run_replay(w, "mpc", ReplayConfig(**cfg)).kpis["delivered_kwh"]
    eng = run_replay(w, "mpc", ReplayConfig(tiebreak="engine", **cfg)).kpis["delivered_kwh"]
    assert dl >= eng - 1e-3
    for name in ("edf", "llf"):  # a second real day for the acceptance criterion
        assert dl >= run_replay(w, name, ReplayConfig(**cfg)).kpis["delivered_kwh"] - 1e-3, name


@pytest.mark.slow
def test_a_week_of_caltech_at_30_kw():
    w = load_window(None, DAY, days=7)
    cfg = ReplayConfig(threshold_kw=30.0)
    k = {a: run_replay(w, a, cfg).kpis for a in ("edf", "llf", "mpc", "offline")}
    assert k["mpc"]["sessions"] == 234  # 233 arriving in the week + 1 plugged in the night before
    assert k["mpc"]["delivered_kwh"] >= max(k["edf"]["delivered_kwh"], k["llf"]["delivered_kwh"]) - 1e-3
    assert k["offline"]["energy_delivered_pct"] - k["mpc"]["energy_delivered_pct"] <= 0.5
    assert k["mpc"]["overload_kwh"] == 0.0


def test_promises_first_serves_more_drivers_than_the_plain_deadline_split():
    # a tight real day (the limit binds all day): promised energy delivered late is capacity a
    # later driver cannot be promised (docs/promises.md, "Promises first")
    w = load_window(None, "2019-10-15", demand="requested")
    cfg = dict(threshold_kw=20.0, tariff=None)
    first = run_replay(w, "mpc", ReplayConfig(**cfg)).kpis
    plain = run_replay(w, "mpc", ReplayConfig(tiebreak="deadline", **cfg)).kpis
    assert first["demands_met_pct"] >= plain["demands_met_pct"] + 5.0
    assert first["promises_kept"] == first["promises"] and plain["promises_kept"] == plain["promises"]
    assert first["overload_kwh"] == 0.0
