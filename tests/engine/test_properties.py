"""Property tests: random small scenarios against the physics and an independent LP.

The reference below formulates each cabinet's LP again from the spec, densely and with
plain loops, and solves the lexicographic stages one by one with
``scipy.optimize.linprog`` (interior point), each stage as its own LP. The engine's
stage optima must agree to ~1e-6.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from engine import Scenario, SessionSpec, parse_scenario, plan, quote, quote_max_kwh
from engine.optimize.scenario import step_array

METHOD = "highs-ds"
PIN = 1e-8  # the same slack as the engine's stage pins ("exact to solver tolerance")
EXAMPLES = int(os.environ.get("ENGINE_PROPERTY_EXAMPLES", "40"))  # raise for a longer hunt
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def random_scenario(seed: int, T: int, n: int, *, n_cab: int = 2, overload: bool = True,
                    guarantees: bool = True, prices: bool = True, battery: bool = True) -> dict[str, Any]:
    """A random valid scenario dict (hourly or 30-min steps)."""
    rng = np.random.default_rng(seed)
    step = float(rng.choice([30.0, 60.0]))
    cabinets, cps, sessions = [], [], []
    for k in range(n_cab):
        cid = f"C{k}"
        thr = float(rng.uniform(0, 15))
        cab: dict[str, Any] = {"id": cid, "threshold_kw": thr if rng.random() < 0.5 else list(rng.uniform(0, 15, T))}
        thr_min = float(np.min(step_array(cab["threshold_kw"], T)))
        if rng.random() < 0.5:
            cab["pv_kw"] = list(rng.uniform(0, 6, T) * (rng.random(T) < 0.6))
        if rng.random() < 0.5:
            top = 20.0 if overload else thr_min
            cab["other_load_kw"] = list(rng.uniform(0, top, T))
        if battery and rng.random() < 0.5:
            cap = float(rng.uniform(1, 20))
            lo = float(rng.uniform(0, cap / 3))
            cab["battery"] = {
                "capacity_kwh": cap,
                "energy_kwh": float(rng.uniform(lo, cap)),
                "min_energy_kwh": lo,
                "max_charge_kw": float(rng.uniform(0, 8)),
                "max_discharge_kw": float(rng.uniform(0, 8)),
                "efficiency": float(rng.uniform(0.7, 1.0)),
            }
        cabinets.append(cab)
        for i in range(n):
            cp = f"{cid}-cp{i}"
            cps.append({"id": cp, "cabinet": cid, "rated_kw": float(rng.choice([3.7, 7.0, 11.0]))})
            a = int(rng.integers(-2, T))
            d = int(rng.integers(a + 1, T + 3))
            s: dict[str, Any] = {"id": f"{cid}-s{i}", "cp": cp, "arrival_step": a, "departure_step": d,
                                 "energy_kwh": float(rng.choice([0.0, rng.uniform(0.5, 40)], p=[0.1, 0.9]))}
            if rng.random() < 0.3:
                s["max_kw"] = float(rng.uniform(1, 8))
            if guarantees and rng.random() < 0.3:
                s["guaranteed"] = True
            sessions.append(s)
    out: dict[str, Any] = {"step_minutes": step, "horizon_steps": T, "cabinets": cabinets,
                           "charge_points": cps, "sessions": sessions}
    if prices and rng.random() < 0.7:
        out["price_per_kwh"] = list(rng.uniform(0, 0.5, T) * (rng.random(T) < 0.8))
    return out


# ------------------------------------------------------------------ independent reference LP


@dataclass
class RefLP:
    """Dense LP of one cabinet, straight from the spec."""

    n: int
    idx: dict[str, Any]
    A_ub: list[np.ndarray]
    b_ub: list[float]
    A_eq: list[np.ndarray]
    b_eq: list[float]
    bounds: list[tuple[float, float | None]]
    pins: list[int] = field(default_factory=list)


def reference_lp(sc: Scenario, cab_id: str, sessions: list[SessionSpec]) -> RefLP:
    T, dt = sc.horizon_steps, sc.dt_hours
    cab = sc.cabinet(cab_id)
    rated = {cp.id: cp.rated_kw for cp in sc.charge_points}
    thr = step_array(cab.threshold_kw, T)
    pv = step_array(cab.pv_kw, T)
    other = step_array(cab.other_load_kw, T)
    names: list[tuple[Any, ...]] = []
    bounds: list[tuple[float, float | None]] = []
    for i, s in enumerate(sessions):
        cap = rated[s.cp] if s.max_kw is None else min(s.max_kw, rated[s.cp])
        for t in range(T):
            names.append(("p", i, t))
            inside = s.arrival_step <= t < s.departure_step
            bounds.append((0.0, cap if inside else 0.0))
    b = cab.battery
    for t in range(T):
        names.append(("c", t)); bounds.append((0.0, b.max_charge_kw if b else 0.0))
        names.append(("d", t)); bounds.append((0.0, b.max_discharge_kw if b else 0.0))
        names.append(("e", t)); bounds.append((b.min_energy_kwh, b.capacity_kwh) if b else (0.0, 0.0))
        names.append(("o", t)); bounds.append((0.0, None))
        names.append(("imp", t)); bounds.append((0.0, None))
    names.append(("z",)); bounds.append((0.0, None))
    idx = {k: j for j, k in enumerate(names)}
    n = len(names)
    A_ub: list[np.ndarray] = []
    b_ub: list[float] = []
    A_eq: list[np.ndarray] = []
    b_eq: list[float] = []
    for t in range(T):
        row = np.zeros(n)  # net - o <= thr
        for i in range(len(sessions)):
            row[idx[("p", i, t)]] = 1
        row[idx[("c", t)]] = 1
        row[idx[("d", t)]] = -1
        row2 = row.copy()
        row[idx[("o", t)]] = -1
        A_ub.append(row); b_ub.append(thr[t] - other[t] + pv[t])
        row2[idx[("imp", t)]] = -1  # net <= imp
        A_ub.append(row2); b_ub.append(pv[t] - other[t])
        if b:
            eq = np.zeros(n)  # e[t] = e[t-1] + (eff c - d / eff) dt
            eq[idx[("e", t)]] = 1
            if t > 0:
                eq[idx[("e", t - 1)]] = -1
            eq[idx[("c", t)]] = -b.efficiency * dt
            eq[idx[("d", t)]] = dt / b.efficiency
            A_eq.append(eq); b_eq.append(b.energy_kwh if t == 0 else 0.0)
    for i, s in enumerate(sessions):
        row = np.zeros(n)
        for t in range(T):
            row[idx[("p", i, t)]] = dt
        A_ub.append(row); b_ub.append(s.energy_kwh)
        if s.energy_kwh > 0:
            fr = -row / s.energy_kwh
            fr[idx[("z",)]] = 1
            A_ub.append(fr); b_ub.append(0.0)
    return RefLP(n, idx, A_ub, b_ub, A_eq, b_eq, bounds)


def ref_solve(lp: RefLP, cost: np.ndarray) -> float:
    for attempt in range(3):
        res = linprog(cost, A_ub=np.array(lp.A_ub), b_ub=np.array(lp.b_ub),
                      A_eq=np.array(lp.A_eq) if lp.A_eq else None, b_eq=np.array(lp.b_eq) if lp.b_eq else None,
                      bounds=lp.bounds, method=METHOD)
        if res.status != 2:
            break
        # the reference's own round-off: a pinned optimum declared infeasible -> widen the pins
        for i in lp.pins:
            lp.b_ub[i] += 1e-8 * 10**attempt * (1 + abs(lp.b_ub[i]))
    assert res.status == 0, res.message
    return float(res.fun)


def ref_pin(lp: RefLP, cost: np.ndarray, value: float) -> None:
    lp.A_ub.append(cost.copy())
    lp.b_ub.append(value + PIN * abs(value) + PIN)
    lp.pins.append(len(lp.b_ub) - 1)


def reference_stages(sc: Scenario, cab_id: str, sessions: list[SessionSpec]) -> dict[str, float]:
    """Stage optima 0-4 of one cabinet, each solved as its own LP."""
    T, dt = sc.horizon_steps, sc.dt_hours
    lp = reference_lp(sc, cab_id, sessions)
    out: dict[str, float] = {}

    def vec(pairs: list[tuple[tuple[Any, ...], float]]) -> np.ndarray:
        c = np.zeros(lp.n)
        for k, v in pairs:
            c[lp.idx[k]] += v
        return c

    c0 = vec([(("o", t), dt) for t in range(T)])
    out["overload_kwh"] = v = ref_solve(lp, c0); ref_pin(lp, c0, v)
    c1 = vec([(("p", i, t), -dt) for i, s in enumerate(sessions) if s.guaranteed for t in range(T)])
    out["guaranteed_kwh"] = -(v := ref_solve(lp, c1)); ref_pin(lp, c1, v)
    c2 = vec([(("p", i, t), -dt) for i in range(len(sessions)) for t in range(T)])
    out["delivered_kwh"] = -(v := ref_solve(lp, c2)); ref_pin(lp, c2, v)
    if any(s.energy_kwh > 0 for s in sessions):
        c3 = vec([(("z",), -1.0)])
        out["min_fraction"] = -(v := ref_solve(lp, c3)); ref_pin(lp, c3, v)
    price = sc.prices()
    c4 = vec([(("imp", t), price[t] * dt) for t in range(T)])
    out["energy_cost"] = ref_solve(lp, c4)
    return out


def close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


# ------------------------------------------------------------------ properties


def check_physics(sc: Scenario, p: Any) -> None:
    T, dt = sc.horizon_steps, sc.dt_hours
    rated = {cp.id: (cp.rated_kw, cp.cabinet) for cp in sc.charge_points}
    for s in sc.sessions:
        sp = p.session(s.id)
        cap = rated[s.cp][0] if s.max_kw is None else min(s.max_kw, rated[s.cp][0])
        t = np.arange(T)
        outside = (t < s.arrival_step) | (t >= s.departure_step)
        assert np.all(sp.power_kw[outside] == 0.0)
        assert np.all(sp.power_kw >= 0.0) and np.all(sp.power_kw <= cap + 1e-9)
        assert sp.delivered_kwh <= s.energy_kwh + 1e-6
        assert sp.delivered_kwh == pytest.approx(sp.power_kw.sum() * dt, abs=1e-9)
        assert sp.met == (sp.delivered_kwh >= s.energy_kwh - 1e-3)
    for cab in sc.cabinets:
        c = p.cabinet(cab.id)
        ev = sum((p.session(s.id).power_kw for s in sc.sessions if rated[s.cp][1] == cab.id), np.zeros(T))
        net = ev + step_array(cab.other_load_kw, T) + c.battery_charge_kw - c.battery_discharge_kw - step_array(cab.pv_kw, T)
        thr = step_array(cab.threshold_kw, T)
        assert np.allclose(c.grid_import_kw, np.maximum(net, 0), atol=1e-9)
        assert np.all(net <= thr + c.overload_kw + 1e-6)
        assert c.overload_kw.sum() * dt == pytest.approx(c.stages["overload_kwh"], rel=1e-6, abs=1e-5)
        b = cab.battery
        if b is None:
            assert not c.battery_charge_kw.any() and not c.battery_energy_kwh.any()
        else:
            e_prev = np.concatenate([[b.energy_kwh], c.battery_energy_kwh[:-1]])
            expect = e_prev + (b.efficiency * c.battery_charge_kw - c.battery_discharge_kw / b.efficiency) * dt
            assert np.allclose(c.battery_energy_kwh, expect, atol=1e-5)
            assert np.all(c.battery_energy_kwh >= b.min_energy_kwh - 1e-9)
            assert np.all(c.battery_energy_kwh <= b.capacity_kwh + 1e-9)
            assert np.all(c.battery_charge_kw <= b.max_charge_kw + 1e-9)
            assert np.all(c.battery_discharge_kw <= b.max_discharge_kw + 1e-9)


@SETTINGS
@given(seed=st.integers(0, 2**31), T=st.integers(1, 12), n=st.integers(1, 5))
def test_plan_respects_the_physics(seed: int, T: int, n: int) -> None:
    sc = parse_scenario(random_scenario(seed, T, n))
    p = plan(sc)
    check_physics(sc, p)
    assert p.status in ("optimal", "infeasible_guarantees")
    assert p.status == ("optimal" if all(c.guarantees_met for c in p.cabinets) else "infeasible_guarantees")


@SETTINGS
@given(seed=st.integers(0, 2**31), T=st.integers(1, 8), n=st.integers(1, 4))
def test_stages_match_an_independent_solver(seed: int, T: int, n: int) -> None:
    sc = parse_scenario(random_scenario(seed, T, n, n_cab=1))
    p = plan(sc)
    cab = sc.cabinets[0].id
    ref = reference_stages(sc, cab, list(sc.sessions))
    c = p.cabinet(cab)
    dt = sc.dt_hours
    got = dict(c.stages)
    # what the final plan achieves, stage by stage
    achieved = {
        "overload_kwh": float(c.overload_kw.sum() * dt),
        "guaranteed_kwh": sum(s.delivered_kwh for s in c.sessions if s.guaranteed),
        "delivered_kwh": c.delivered_kwh,
        "energy_cost": c.energy_cost,
    }
    fr = [s.delivered_kwh / s.requested_kwh for s in c.sessions if s.requested_kwh > 0]
    if fr:
        achieved["min_fraction"] = min(fr)
    for k, v in ref.items():
        if k in got:
            assert close(got[k], v), (k, got[k], v)
        assert close(achieved[k], v, 1e-6, 1e-5), (k, achieved[k], v)
    guaranteed_req = sum(s.energy_kwh for s in sc.sessions if s.guaranteed)
    assert c.guarantees_met == (ref["guaranteed_kwh"] >= guaranteed_req - 1e-6 * max(1.0, guaranteed_req) - 1e-7)


@SETTINGS
@given(seed=st.integers(0, 2**31), T=st.integers(1, 10), n=st.integers(1, 5),
       raise_kw=st.floats(0.0, 10.0), step=st.integers(0, 9))
def test_raising_a_threshold_never_lowers_the_energy(seed: int, T: int, n: int, raise_kw: float, step: int) -> None:
    d = random_scenario(seed, T, n, overload=False)
    p0 = plan(parse_scenario(d))
    thr = list(step_array(d["cabinets"][0]["threshold_kw"], T))
    thr[step % T] += raise_kw
    d["cabinets"][0]["threshold_kw"] = thr
    p1 = plan(parse_scenario(d))
    if p0.status == "optimal":  # guarantees met before -> still met, the feasible set only grows
        assert p1.status == "optimal"
        assert p1.totals["delivered_kwh"] >= p0.totals["delivered_kwh"] - 1e-6


def reference_quote_energy(sc: Scenario, req: SessionSpec, departure: int) -> float:
    """Most energy for the request by ``departure`` keeping stages 0-1 of its cabinet."""
    cab = sc.cabinet_of(req.cp)
    cps = {cp.id: cp.cabinet for cp in sc.charge_points}
    kept = [s for s in sc.sessions if s.guaranteed and cps[s.cp] == cab]
    r = SessionSpec(req.id, req.cp, req.arrival_step, departure, req.energy_kwh, req.max_kw)
    lp = reference_lp(sc, cab, [*kept, r])
    T, dt = sc.horizon_steps, sc.dt_hours
    c0 = np.zeros(lp.n)
    for t in range(T):
        c0[lp.idx[("o", t)]] = dt
    ref_pin(lp, c0, ref_solve(lp, c0))
    c1 = np.zeros(lp.n)
    for i in range(len(kept)):
        for t in range(T):
            c1[lp.idx[("p", i, t)]] = -dt
    ref_pin(lp, c1, ref_solve(lp, c1))
    c = np.zeros(lp.n)
    for t in range(T):
        c[lp.idx[("p", len(kept), t)]] = -dt
    return -ref_solve(lp, c)


@settings(max_examples=max(1, EXAMPLES * 5 // 8), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), T=st.integers(2, 8), n=st.integers(1, 3), e=st.floats(0.5, 30))
def test_quote_matches_an_independent_solver(seed: int, T: int, n: int, e: float) -> None:
    d = random_scenario(seed, T, n, n_cab=1)
    rng = np.random.default_rng(seed + 1)
    d["charge_points"].append({"id": "kiosk", "cabinet": "C0", "rated_kw": 7.0})
    a = int(rng.integers(0, T))
    req = SessionSpec("req", "kiosk", a, int(rng.integers(a + 1, T + 1)), e)
    sc = parse_scenario(d)
    q = quote(sc, req)
    best = reference_quote_energy(sc, req, req.departure_step)
    assert close(q.max_kwh, min(e, best), 1e-6, 1e-6)
    assert close(quote_max_kwh(sc, req), q.max_kwh, 1e-6, 1e-6)  # the block-aggregated shortcut
    assert q.feasible == (q.max_kwh >= e - 1e-6)
    # earliest departure: brute force over every departure step
    ok = [D for D in range(a + 1, T + 1) if reference_quote_energy(sc, req, D) >= e - 1e-6]
    if q.earliest_departure_step is None:
        assert not ok or reference_quote_energy(sc, req, ok[0]) < e - 1e-6 + 1e-5
    else:
        assert ok, q
        assert abs(q.earliest_departure_step - ok[0]) <= 0 or close(
            reference_quote_energy(sc, req, min(q.earliest_departure_step, ok[0])), e, 1e-6, 1e-5
        ), (q, ok)


@SETTINGS
@given(seed=st.integers(0, 2**31), T=st.integers(1, 30), n=st.integers(1, 6))
def test_blocks_give_the_same_optima_as_steps(seed: int, T: int, n: int) -> None:
    """Aggregating equal-data steps into blocks is exact for stages 0-4."""
    from engine.optimize.cabinet_input import cabinet_input
    from engine.optimize.planner import solve_cabinet

    d = random_scenario(seed, T, n, n_cab=1)
    rng = np.random.default_rng(seed)
    cab = d["cabinets"][0]
    for key in ("pv_kw", "other_load_kw"):  # piecewise-constant profiles make real blocks
        if key in cab:
            cab[key] = list(np.repeat(np.asarray(cab[key])[:: 4], 4)[:T])
    if "price_per_kwh" in d:
        d["price_per_kwh"] = list(np.repeat(rng.uniform(0, 0.5, T)[:: 6], 6)[:T])
    sc = parse_scenario(d)
    inp = cabinet_input(sc, "C0")
    a = solve_cabinet(inp, blocks=True)
    b = solve_cabinet(inp, blocks=False)
    assert a.stages.keys() == b.stages.keys()
    for k in a.stages:
        assert close(a.stages[k], b.stages[k], 1e-6, 1e-6), (k, a.stages[k], b.stages[k])
    assert close(a.energy_cost, b.energy_cost, 1e-6, 1e-5)
    assert close(a.delivered_kwh, b.delivered_kwh, 1e-6, 1e-5)
    assert close(float(a.overload_kw.sum()), float(b.overload_kw.sum()), 1e-6, 1e-5)
