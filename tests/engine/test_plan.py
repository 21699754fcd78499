"""Hand-checkable plans (engine spec: physics, objective stages 0-5, plan JSON)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
from engine import ScenarioError, parse_scenario, plan, plan_cabinet
from engine.optimize.scenario import SessionSpec

TOL = 1e-6


def scenario(
    T: int,
    cabinets: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    *,
    step_minutes: float = 60,
    price: list[float] | None = None,
    cps: list[dict[str, Any]] | None = None,
) -> engine.Scenario:
    """One charge point per session (``cp`` = session id + ``-cp``) on cabinet ``cab`` (default first)."""
    if cps is None:
        cps = [
            {"id": s["cp"], "cabinet": s.pop("cab", cabinets[0]["id"]), "rated_kw": s.pop("rated", 7.0)}
            for s in sessions
        ]
    d: dict[str, Any] = {
        "step_minutes": step_minutes,
        "horizon_steps": T,
        "cabinets": cabinets,
        "charge_points": cps,
        "sessions": sessions,
    }
    if price is not None:
        d["price_per_kwh"] = price
    return parse_scenario(d)


def ev(sid: str, a: int, d: int, e: float, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "cp": f"{sid}-cp", "arrival_step": a, "departure_step": d, "energy_kwh": e, **kw}


def test_one_ev_charges_fully_and_early() -> None:
    sc = scenario(24, [{"id": "A", "threshold_kw": 50}], [ev("s1", 0, 24, 10.0)], step_minutes=5)
    p = plan(sc)
    assert p.status == "optimal"
    s = p.session("s1")
    assert s.delivered_kwh == pytest.approx(10.0, abs=1e-6) and s.met
    # stage 5: as early as possible -> 7 kW for 17 steps, the rest at step 17
    assert np.allclose(s.power_kw[:17], 7.0, atol=1e-6)
    assert s.power_kw[17] == pytest.approx((10.0 - 17 * 7 / 12) * 12, abs=1e-5)
    assert np.allclose(s.power_kw[18:], 0.0, atol=1e-9)
    assert p.totals == pytest.approx({"requested_kwh": 10.0, "delivered_kwh": 10.0, "energy_cost": 0.0}, abs=1e-6)
    assert p.warnings == []


def test_plan_json_shape() -> None:
    sc = scenario(6, [{"id": "A", "threshold_kw": 10}, {"id": "B", "threshold_kw": 3}],
                  [ev("s1", 1, 4, 5.0), ev("s2", 0, 6, 4.0, cab="B")])
    d = plan(sc).to_dict()
    assert set(d) >= {"status", "sessions", "cabinets", "totals", "warnings", "solve_seconds"}
    assert [s["id"] for s in d["sessions"]] == ["s1", "s2"]
    for s in d["sessions"]:
        assert set(s) >= {"id", "requested_kwh", "delivered_kwh", "met", "power_kw"}
        assert len(s["power_kw"]) == 6
    assert [c["id"] for c in d["cabinets"]] == ["A", "B"]
    for c in d["cabinets"]:
        for k in ("grid_import_kw", "battery_charge_kw", "battery_discharge_kw", "battery_energy_kwh"):
            assert len(c[k]) == 6 and all(x == 0.0 for x in c[k][:0])
        assert c["battery_energy_kwh"] == [0.0] * 6  # no battery: zeros
    assert set(d["totals"]) == {"requested_kwh", "delivered_kwh", "energy_cost"}
    assert d["solve_seconds"] > 0


def test_two_evs_share_fairly_under_the_threshold() -> None:
    # 7 kW for one hour: 7 kWh for requests of 10 and 4 kWh -> equal fraction 0.5
    sc = scenario(1, [{"id": "A", "threshold_kw": 7}], [ev("big", 0, 1, 10.0), ev("small", 0, 1, 4.0)])
    p = plan(sc)
    assert p.totals["delivered_kwh"] == pytest.approx(7.0, abs=1e-6)
    assert p.session("big").delivered_kwh == pytest.approx(5.0, abs=1e-6)
    assert p.session("small").delivered_kwh == pytest.approx(2.0, abs=1e-6)
    assert not p.session("big").met and not p.session("small").met
    assert p.cabinet("A").stages["min_fraction"] == pytest.approx(0.5, abs=1e-6)
    assert p.status == "optimal"  # nothing was guaranteed


def test_fairness_among_the_plans_with_most_energy() -> None:
    # "a" can charge at step 0 only, "b" at steps 0-1; threshold 7 kW. Every plan with
    # the most energy (14 kWh) fills both steps; among them the fairest gives both 2/3.
    sc = scenario(2, [{"id": "A", "threshold_kw": 7}], [ev("a", 0, 1, 7.0), ev("b", 0, 2, 14.0)])
    p = plan(sc)
    assert p.totals["delivered_kwh"] == pytest.approx(14.0, abs=1e-6)
    assert p.session("a").delivered_kwh == pytest.approx(14 / 3, abs=1e-6)
    assert p.session("b").delivered_kwh == pytest.approx(28 / 3, abs=1e-6)
    assert p.cabinet("A").stages["min_fraction"] == pytest.approx(2 / 3, abs=1e-6)


def test_total_energy_comes_before_fairness() -> None:
    # one step, threshold 7 kW: "a" wants 7 kWh, "b" 70 kWh but accepts only 1 kW.
    # Most energy: a 6, b 1 (fractions 6/7 and 1/70); fairness cannot take energy away.
    sc = scenario(1, [{"id": "A", "threshold_kw": 7}], [ev("a", 0, 1, 7.0), ev("b", 0, 1, 70.0, max_kw=1.0)])
    p = plan(sc)
    assert p.totals["delivered_kwh"] == pytest.approx(7.0, abs=1e-6)
    assert p.session("b").delivered_kwh == pytest.approx(1.0, abs=1e-6)
    assert p.cabinet("A").stages["min_fraction"] == pytest.approx(1 / 70, abs=1e-6)


def test_pv_fills_the_gap_at_noon() -> None:
    T = 24
    pv = [4.0 if 10 <= t < 15 else 0.0 for t in range(T)]
    sc = scenario(T, [{"id": "A", "threshold_kw": 3, "pv_kw": pv}], [ev("s1", 8, 16, 40.0)])
    p = plan(sc)
    s = p.session("s1")
    assert s.delivered_kwh == pytest.approx(40.0, abs=1e-6) and s.met
    c = p.cabinet("A")
    assert np.all(c.grid_import_kw <= 3.0 + TOL)
    # early: 3 kW from the grid at 8-9, then 3 kW grid + 4 kW PV until 40 kWh
    assert np.allclose(s.power_kw[8:15], [3, 3, 7, 7, 7, 7, 6], atol=1e-6)
    # without the PV only 8 h x 3 kW = 24 kWh fit
    sc0 = scenario(T, [{"id": "A", "threshold_kw": 3}], [ev("s1", 8, 16, 40.0)])
    assert plan(sc0).totals["delivered_kwh"] == pytest.approx(24.0, abs=1e-6)


def test_battery_discharges_at_the_peak() -> None:
    bat = {"capacity_kwh": 10, "energy_kwh": 8, "min_energy_kwh": 0, "max_charge_kw": 2, "max_discharge_kw": 2}
    sc = scenario(4, [{"id": "A", "threshold_kw": 5, "battery": bat}], [ev("s1", 0, 4, 28.0)])
    p = plan(sc)
    assert p.session("s1").delivered_kwh == pytest.approx(28.0, abs=1e-6)
    c = p.cabinet("A")
    assert np.allclose(c.battery_discharge_kw, 2.0, atol=1e-6)
    assert np.allclose(c.battery_energy_kwh, [6, 4, 2, 0], atol=1e-6)
    assert np.allclose(c.grid_import_kw, 5.0, atol=1e-6)


def test_battery_efficiency_losses() -> None:
    # efficiency 0.5 one-way: 8 kWh stored give 4 kWh at the grid side
    bat = {"capacity_kwh": 10, "energy_kwh": 8, "max_charge_kw": 10, "max_discharge_kw": 10, "efficiency": 0.5}
    sc = scenario(1, [{"id": "A", "threshold_kw": 0, "battery": bat}], [ev("s1", 0, 1, 7.0)])
    p = plan(sc)
    assert p.session("s1").delivered_kwh == pytest.approx(4.0, abs=1e-6)
    assert p.cabinet("A").battery_energy_kwh[0] == pytest.approx(0.0, abs=1e-6)


def test_other_load_alone_over_the_threshold() -> None:
    T = 10
    other = [12.0 if 5 <= t < 8 else 2.0 for t in range(T)]
    sc = scenario(T, [{"id": "A", "threshold_kw": 10, "other_load_kw": other}], [ev("s1", 0, 10, 20.0)])
    p = plan(sc)
    c = p.cabinet("A")
    assert c.stages["overload_kwh"] == pytest.approx(6.0, abs=1e-6)
    assert np.allclose(p.session("s1").power_kw[5:8], 0.0, atol=1e-6)  # every EV at zero
    assert np.allclose(c.overload_kw, [0, 0, 0, 0, 0, 2, 2, 2, 0, 0], atol=1e-6)
    assert p.warnings == ["A: 6.0 kWh over the threshold at steps 5-7 even with every EV at zero"]
    assert p.session("s1").delivered_kwh == pytest.approx(20.0, abs=1e-6)
    assert p.status == "optimal"


def test_battery_reduces_the_unavoidable_overload() -> None:
    other = [2.0, 2.0, 12.0]
    bat = {"capacity_kwh": 10, "energy_kwh": 0, "max_charge_kw": 1, "max_discharge_kw": 1.5}
    sc = scenario(3, [{"id": "A", "threshold_kw": 10, "other_load_kw": other, "battery": bat}], [ev("s1", 0, 3, 20.0)])
    p = plan(sc)
    c = p.cabinet("A")
    # battery charges 2 kWh before, discharges 1.5 kW at step 2: overload 0.5 kWh
    assert c.stages["overload_kwh"] == pytest.approx(0.5, abs=1e-6)
    assert c.battery_discharge_kw[2] == pytest.approx(1.5, abs=1e-6)
    assert p.warnings == ["A: 0.5 kWh over the threshold at step 2 even with every EV at zero"]


def test_guarantees_that_cannot_all_be_met() -> None:
    sessions = [
        ev("g1", 0, 1, 5.0, guaranteed=True),
        ev("g2", 0, 1, 5.0, guaranteed=True),
        ev("free", 0, 1, 5.0),
    ]
    sc = scenario(1, [{"id": "A", "threshold_kw": 7}], sessions)
    p = plan(sc)
    assert p.status == "infeasible_guarantees"
    c = p.cabinet("A")
    assert c.stages["guaranteed_kwh"] == pytest.approx(7.0, abs=1e-6)
    assert p.session("free").delivered_kwh == pytest.approx(0.0, abs=1e-6)  # guarantees first
    assert p.session("g1").delivered_kwh + p.session("g2").delivered_kwh == pytest.approx(7.0, abs=1e-6)
    assert any("guaranteed" in w for w in p.warnings)


def test_guarantees_come_before_total_energy() -> None:
    # the guaranteed EV can use only step 0; the free one all of steps 0-1.
    sessions = [ev("g", 0, 1, 7.0, guaranteed=True), ev("free", 0, 2, 14.0)]
    sc = scenario(2, [{"id": "A", "threshold_kw": 7}], sessions)
    p = plan(sc)
    assert p.status == "optimal"
    assert p.session("g").delivered_kwh == pytest.approx(7.0, abs=1e-6) and p.session("g").met
    assert p.session("free").delivered_kwh == pytest.approx(7.0, abs=1e-6)


def test_price_shifts_charging_to_cheap_steps() -> None:
    price = [0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1]
    sc = scenario(8, [{"id": "A", "threshold_kw": 20}], [ev("s1", 0, 8, 14.0)], price=price)
    p = plan(sc)
    s = p.session("s1")
    assert s.delivered_kwh == pytest.approx(14.0, abs=1e-6)
    assert np.allclose(s.power_kw[:4], 0.0, atol=1e-6)
    assert np.allclose(s.power_kw[4:6], 7.0, atol=1e-6)  # then early among the cheap steps
    assert p.totals["energy_cost"] == pytest.approx(1.4, abs=1e-6)
    assert p.cabinet("A").stages["energy_cost"] == pytest.approx(1.4, abs=1e-6)


def test_cost_counts_import_only_not_export() -> None:
    # PV 10 kW exports at step 0 (free); EV must charge at step 1 (price 1)
    sc = scenario(2, [{"id": "A", "threshold_kw": 20, "pv_kw": [10.0, 0.0]}], [ev("s1", 1, 2, 3.0)], price=[1.0, 1.0])
    p = plan(sc)
    c = p.cabinet("A")
    assert np.allclose(c.grid_import_kw, [0.0, 3.0], atol=1e-6)
    assert p.totals["energy_cost"] == pytest.approx(3.0, abs=1e-6)


def test_threshold_as_an_array() -> None:
    thr = [7.0, 7.0, 0.0, 0.0, 3.5, 3.5]
    sc = scenario(6, [{"id": "A", "threshold_kw": thr}], [ev("s1", 0, 6, 30.0)])
    p = plan(sc)
    s = p.session("s1")
    assert np.allclose(s.power_kw, thr, atol=1e-6)
    assert s.delivered_kwh == pytest.approx(21.0, abs=1e-6) and not s.met


def test_max_kw_and_rating_cap_power() -> None:
    sessions = [ev("s1", 0, 2, 20.0, max_kw=3.3), ev("s2", 0, 2, 20.0, rated=4.0)]
    sc = scenario(2, [{"id": "A", "threshold_kw": 100}], sessions)
    p = plan(sc)
    assert np.allclose(p.session("s1").power_kw, 3.3, atol=1e-6)
    assert np.allclose(p.session("s2").power_kw, 4.0, atol=1e-6)


def test_windows_are_clipped_to_the_horizon() -> None:
    sessions = [ev("early", -5, 2, 20.0), ev("late", 3, 40, 20.0), ev("outside", 10, 12, 5.0)]
    sc = scenario(4, [{"id": "A", "threshold_kw": 100}], sessions)
    p = plan(sc)
    assert np.allclose(p.session("early").power_kw, [7, 7, 0, 0], atol=1e-6)
    assert np.allclose(p.session("late").power_kw, [0, 0, 0, 7], atol=1e-6)
    assert p.session("outside").delivered_kwh == 0.0


def test_zero_energy_session_and_empty_cabinet() -> None:
    sc = scenario(3, [{"id": "A", "threshold_kw": 10}, {"id": "B", "threshold_kw": 1}], [ev("z", 0, 3, 0.0)])
    p = plan(sc)
    assert p.session("z").delivered_kwh == 0.0 and p.session("z").met
    assert p.cabinet("B").sessions == ()
    assert p.status == "optimal"


def test_cabinets_solved_apart_equal_together() -> None:
    rng = np.random.default_rng(3)
    T = 24
    cabinets = [
        {"id": "A", "threshold_kw": 9, "pv_kw": list(rng.uniform(0, 4, T))},
        {"id": "B", "threshold_kw": 6, "battery": {"capacity_kwh": 8, "energy_kwh": 4, "max_charge_kw": 3, "max_discharge_kw": 3, "efficiency": 0.9}},
        {"id": "C", "threshold_kw": list(rng.uniform(3, 8, T)), "other_load_kw": list(rng.uniform(0, 2, T))},
    ]
    sessions = []
    for k, cab in enumerate("ABC"):
        for i in range(4):
            a = int(rng.integers(0, 16))
            sessions.append(ev(f"{cab}{i}", a, a + int(rng.integers(2, 8)), float(rng.uniform(3, 25)), cab=cab, guaranteed=bool(i == 0)))
    price = list(rng.uniform(0.05, 0.4, T))
    sc = scenario(T, cabinets, sessions, price=price)
    together = plan(sc, workers=1)
    parallel = plan(sc, workers=3)
    for cab in "ABC":
        apart = plan_cabinet(sc, cab)
        for other in (together.cabinet(cab), parallel.cabinet(cab)):
            assert apart.stages.keys() == other.stages.keys()
            for k, v in apart.stages.items():
                assert other.stages[k] == pytest.approx(v, rel=1e-6, abs=1e-6)
            for s in apart.sessions:
                assert np.allclose(s.power_kw, other.session(s.id).power_kw, atol=1e-6)
    assert together.totals == pytest.approx(parallel.totals, rel=1e-9)


def test_plan_cabinet_with_given_sessions() -> None:
    sc = scenario(4, [{"id": "A", "threshold_kw": 7}, {"id": "B", "threshold_kw": 7}],
                  [ev("s1", 0, 4, 10.0), ev("s2", 0, 4, 10.0, cab="B")])
    sub = [SessionSpec("x", "s1-cp", 0, 2, 3.0, guaranteed=True)]
    c = plan_cabinet(sc, "A", sub)
    assert [s.id for s in c.sessions] == ["x"]
    assert c.session("x").delivered_kwh == pytest.approx(3.0, abs=1e-6)
    with pytest.raises(ScenarioError, match=r"sessions\[0\]\.cp"):
        plan_cabinet(sc, "B", sub)
    with pytest.raises(ScenarioError, match="cabinet"):
        plan_cabinet(sc, "Z")


def test_early_stage_can_be_switched_off() -> None:
    sc = scenario(6, [{"id": "A", "threshold_kw": 20}], [ev("s1", 0, 6, 7.0)])
    c = plan_cabinet(sc, "A", early=False)
    assert c.session("s1").delivered_kwh == pytest.approx(7.0, abs=1e-6)


def test_concurrent_plans_from_many_threads_agree() -> None:
    """The app calls the engine from several threads at once: results must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    T = 48
    cabinets = [{"id": c, "threshold_kw": 10.0} for c in "AB"]
    sessions = [ev(f"{c}{i}", int(rng.integers(0, 30)), 48, float(rng.uniform(2, 20)), cab=c) for c in "AB" for i in range(6)]
    sc = scenario(T, cabinets, sessions, step_minutes=15, price=list(rng.uniform(0.1, 0.3, T)))
    ref = plan(sc, workers=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: plan(sc), range(8)))
    for r in results:
        assert r.totals == pytest.approx(ref.totals, rel=1e-9, abs=1e-9)
        for s in ref.sessions:
            assert np.allclose(r.session(s.id).power_kw, s.power_kw, atol=1e-9)
