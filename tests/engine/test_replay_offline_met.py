"""offline_met (the hindsight maximum of demands met) and the uniform solve_ms_median."""
from __future__ import annotations

import numpy as np
import pytest

from engine.replay.kpi import session_met
from engine.replay.loader import load_window
from engine.replay.offline_met import max_demands_met
from engine.replay.simulate import ReplayConfig, run_replay, simulate
from engine.replay.strategies import make_strategy
from tests.engine.test_replay_promises import three_cars


def test_offline_met_meets_the_most_demands_by_hand():
    """6.6 kWh for needs 6, 1 and 0.6: at most two can be met (1 + 0.6, the rest to the first);
    the energy optimum shared fairly meets none."""
    pr = three_cars()
    power, met, optimal = max_demands_met(pr)
    got = power.sum(axis=1) * pr.dt_hours
    assert optimal and list(met) == [False, True, True]
    assert session_met(pr.demand_kwh, got).tolist() == [False, True, True]
    assert got.sum() == pytest.approx(6.6, abs=1e-6)  # then the most energy
    assert power.sum(axis=0).max() <= 6.6 + 1e-9
    off, _ = simulate(pr, make_strategy("offline"))
    assert session_met(pr.demand_kwh, off.sum(axis=1) * pr.dt_hours).sum() == 0


def test_offline_met_bounds_every_strategy_on_a_real_day():
    w = load_window(None, "2019-05-06", demand="requested")
    cfg = ReplayConfig(threshold_kw=25.0, tariff=None)
    k = {a: run_replay(w, a, cfg).kpis for a in ("round_robin", "edf", "llf", "mpc", "offline", "offline_met")}
    best = k["offline_met"]
    assert best["overload_kwh"] == 0.0 and best["peak_kw"] <= 25.0 + 1e-6
    for name, v in k.items():
        assert best["demands_met_pct"] >= v["demands_met_pct"], name
    assert best["delivered_kwh"] <= k["offline"]["delivered_kwh"] + 1e-3
    assert k["mpc"]["promises_kept"] == k["mpc"]["promises"] > 0


def test_solve_ms_median_times_one_decision_for_every_strategy():
    """Heuristics decide at every step with cars present; offline strategies once (their plan);
    mpc at the steps it re-plans (policy and quotes included)."""
    pr = three_cars()
    n_steps = 4
    for name in ("round_robin", "edf", "llf"):
        s = make_strategy(name)
        simulate(pr, s)
        assert len(s.decision_seconds) == n_steps, name
    for name in ("offline", "offline_met"):
        s = make_strategy(name)
        simulate(pr, s)
        assert len(s.decision_seconds) == 1, name
    s = make_strategy("mpc")
    simulate(pr, s)
    assert 1 <= len(s.decision_seconds) < n_steps
    assert all(t > 0 for t in s.decision_seconds)
