"""mpc's fcfs promises: quoting order, kept promises, and what they cost in demands met (real days).

The default policy (``admit``) is tested in ``test_promises.py``; here ``policy="fcfs"``.
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.replay.kpi import session_met
from engine.replay.loader import load_window
from engine.replay.mpc import ModelPredictive
from engine.replay.problem import ReplayProblem
from engine.replay.promise_bound import promise_bound
from engine.replay.simulate import ReplayConfig, build_problem, run_replay, simulate


def three_cars(demand=(6.0, 1.0, 0.6)) -> ReplayProblem:
    """Three cars plugged in at step 0 for one hour; the site can deliver 6.6 kWh in it."""
    n = len(demand)
    return ReplayProblem(
        step_minutes=15, horizon_steps=4, threshold_kw=6.6, max_kw=np.full(n, 6.6),
        arrival_step=np.zeros(n, dtype=int), departure_step=np.full(n, 4), deadline_step=np.full(n, 4),
        demand_kwh=np.asarray(demand, dtype=float), price_per_kwh=np.zeros(4),
        session_ids=[f"s{i}" for i in range(n)],
    )


def run_mpc(pr: ReplayProblem, **options) -> tuple[ModelPredictive, np.ndarray]:
    options.setdefault("policy", "fcfs")  # these tests are about first come, first served promises
    mpc = ModelPredictive(**options)
    power, _ = simulate(pr, mpc)
    return mpc, power.sum(axis=1) * pr.dt_hours


def test_same_step_arrivals_are_quoted_smallest_request_first():
    pr = three_cars()
    need, got_need = run_mpc(pr)
    arr, got_arr = run_mpc(pr, quote_order="arrival")
    assert need.promise_order == [2, 1, 0] and arr.promise_order == [0, 1, 2]
    np.testing.assert_allclose(need.promised_kwh, [5.0, 1.0, 0.6], atol=1e-6)
    np.testing.assert_allclose(arr.promised_kwh, [6.0, 0.6, 0.0], atol=1e-6)
    for mpc, got in ((need, got_need), (arr, got_arr)):
        assert np.all(got >= mpc.promised_kwh - 1e-6)  # every promise kept
        assert got.sum() == pytest.approx(6.6, abs=1e-6)  # same energy either way
    assert session_met(pr.demand_kwh, got_need).sum() == 2
    assert session_met(pr.demand_kwh, got_arr).sum() == 1


def test_bad_quote_order_is_refused():
    with pytest.raises(ValueError, match="quote_order"):
        ModelPredictive(quote_order="random")


def test_promise_bound_on_a_hand_made_case():
    pr = three_cars()
    mpc, _ = run_mpc(pr, quote_order="arrival")
    bound = promise_bound(pr, mpc.promised_kwh, mpc.promise_order, [0, 1, 2])
    # the first car could have everything it asked for; the second only what the first left;
    # the third nothing at all
    np.testing.assert_allclose(bound, [6.0, 0.6, 0.0], atol=1e-3)
    with pytest.raises(ValueError, match="never promised"):
        promise_bound(pr, mpc.promised_kwh, [0, 1], [2])


def _day(start: str, threshold: float, policy: str = "fcfs"):
    w = load_window(None, start)
    cfg = ReplayConfig(threshold_kw=threshold)
    k = {a: run_replay(w, a, cfg) for a in ("edf", "llf", "offline")}
    pr = build_problem(w, cfg)
    mpc, got = run_mpc(pr, policy=policy)
    return pr, k, mpc, got


def _energy_ok(pr, k, got):
    total = float(got.sum())
    for name in ("edf", "llf"):
        assert total >= float(k[name].delivered_kwh.sum()) - 1e-3, name
    gap = 100.0 * (float(k["offline"].delivered_kwh.sum()) - total) / float(pr.demand_kwh.sum())
    assert gap <= 0.5


@pytest.mark.parametrize("start", ["2019-05-22", "2019-06-19"])
def test_tight_days_where_mpc_meets_as_many_demands_as_edf(start):
    """With the default promise policy (fcfs met one demand fewer than edf on 2019-06-19 once
    arrivals were rounded down as acnportal does)."""
    pr, k, mpc, got = _day(start, 20.0, policy="admit")
    assert float(got.sum()) < 0.9 * float(pr.demand_kwh.sum())  # really tight
    _energy_ok(pr, k, got)
    met = session_met(pr.demand_kwh, got).sum()
    assert met >= session_met(pr.demand_kwh, k["edf"].delivered_kwh).sum()


@pytest.mark.parametrize("start", ["2019-05-07", "2020-02-11"])
def test_demands_mpc_misses_are_lost_to_earlier_promises(start):
    """At 20 kW on these days mpc meets fewer demands than edf (66.7 vs 70.8 % and 64.3 vs
    69.0 %); every such car is certified unmeetable by any plan given the promises made
    before it arrived, and no car mpc misses got energy beyond its promise (the engine's
    optimal plans had nothing to move between cars)."""
    pr, k, mpc, got = _day(start, 20.0)
    _energy_ok(pr, k, got)
    assert np.all(got >= mpc.promised_kwh - 1e-3)
    met = session_met(pr.demand_kwh, got)
    met_edf = session_met(pr.demand_kwh, k["edf"].delivered_kwh)
    assert np.all(got[~met] <= mpc.promised_kwh[~met] + 0.01)
    lost = np.flatnonzero(met_edf & ~met)
    bound = promise_bound(pr, mpc.promised_kwh, mpc.promise_order, lost)
    assert np.all(bound < 0.99 * pr.demand_kwh[lost]), (lost, bound, pr.demand_kwh[lost])
