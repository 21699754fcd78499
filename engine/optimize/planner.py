"""The lexicographic planner: stages 0-5 of the engine spec, per cabinet.

Each cabinet is an independent LP (:mod:`engine.optimize.lp_model`), built on blocks of
consecutive steps with identical data (:func:`engine.optimize.lp_model.aggregate`, exact for
stages 0-4) and loaded once into HiGHS. A weighted mix of all stages is solved first
(warm start only); then every stage changes the cost vector, re-runs the simplex from
the previous basis and pins its optimum with one extra row (slack ``1e-8`` relative +
``1e-8`` absolute, widened to 1e-6 only if HiGHS then reports a numerical failure):

0. minimise the total overload ``sum o[t] dt`` [kWh] (skipped, with ``o`` fixed to 0, when
   ``other - pv <= threshold`` at every step: the EVs and battery can then idle);
1. maximise the energy of guaranteed sessions [kWh] (skipped without guaranteed sessions);
2. maximise the total energy delivered [kWh] (skipped when every session is guaranteed:
   stage 1 already did it);
3. maximise the smallest delivered/requested fraction over sessions with energy > 0
   (skipped when it is already decided: everything delivered, fewer than two such
   sessions, or one of them has no step inside the horizon);
4. minimise the energy cost ``sum price[t] import[t] dt`` (skipped when all prices are 0);
5. the engine's choice: charge as early as possible (energy weighted by the time of its
   block, plus a tiny battery-cycling penalty), then front-loaded inside each block;
   this leaves the most room for later arrivals (online MPC).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from engine.optimize.lp_model import (
    INF,
    CabinetInput,
    CabinetModel,
    LpHandle,
    aggregate,
    build_model,
    cabinet_input,
)
from engine.optimize.scenario import Scenario, ScenarioError, SessionSpec, check_references

__all__ = [
    "SessionPlan",
    "CabinetPlan",
    "Plan",
    "plan",
    "plan_cabinet",
    "solve_cabinet",
    "stage_tolerance",
    "TOL_REL",
    "TOL_ABS",
    "MET_TOL_KWH",
]

TOL_REL = 1e-8
"""Relative slack given to an earlier stage's optimum when it becomes a constraint."""
TOL_ABS = 1e-8
"""Absolute slack given to an earlier stage's optimum when it becomes a constraint."""
MET_TOL_KWH = 1e-3
"""A session is ``met`` when ``delivered >= requested - MET_TOL_KWH`` (spec)."""
OVERLOAD_EPS_KW = 1e-6
ZERO_KW = 1e-9
"""Powers below this [kW] are solver round-off and reported as exactly 0."""
"""Overload below this [kW] is solver noise, not reported."""
CYCLE_PENALTY = 1e-4
"""Stage-5 weight of battery charge/discharge relative to one step of delay."""
PRELUDE_OVERLOAD = 10.0
PRELUDE_GUARANTEE = 2.0
PRELUDE_FAIRNESS = 1.0
PRELUDE_COST = 0.2
PRELUDE_EARLY = 1e-4
"""Weights of the warm-start mix (per kWh of overload / guaranteed energy, per unit of
the smallest fraction, per the largest price, per stage-5 unit); speed only."""


def stage_tolerance(value: float) -> float:
    """Slack allowed around a stage optimum [same unit as the objective]."""
    return TOL_REL * abs(value) + TOL_ABS


@dataclass(frozen=True, eq=False)
class SessionPlan:
    """The plan of one session.

    Parameters
    ----------
    id : str
    cabinet : str
    requested_kwh : float
        Energy requested [kWh].
    delivered_kwh : float
        Energy planned [kWh].
    met : bool
        ``delivered_kwh >= requested_kwh - 1e-3``.
    power_kw : ndarray
        Charging power per step [kW], length T.
    guaranteed : bool
    """

    id: str
    cabinet: str
    requested_kwh: float
    delivered_kwh: float
    met: bool
    power_kw: np.ndarray
    guaranteed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The spec's session object (plus ``cabinet`` and ``guaranteed``)."""
        return {
            "id": self.id,
            "requested_kwh": float(self.requested_kwh),
            "delivered_kwh": float(self.delivered_kwh),
            "met": bool(self.met),
            "power_kw": [float(x) for x in self.power_kw],
            "cabinet": self.cabinet,
            "guaranteed": bool(self.guaranteed),
        }


@dataclass(frozen=True, eq=False)
class CabinetPlan:
    """The plan of one cabinet.

    Parameters
    ----------
    id : str
    grid_import_kw : ndarray
        ``max(net, 0)`` per step [kW].
    battery_charge_kw, battery_discharge_kw : ndarray
        Battery power per step [kW] (zeros without a battery).
    battery_energy_kwh : ndarray
        Battery energy after each step, ``e[1..T]`` [kWh] (zeros without a battery).
    overload_kw : ndarray
        Import above the threshold per step [kW] (the unavoidable stage-0 minimum).
    net_kw : ndarray
        Net load per step (negative: export) [kW].
    sessions : tuple of SessionPlan
        In the order they were given.
    stages : dict
        Optimum of every stage that was solved or decided: ``overload_kwh``,
        ``guaranteed_kwh``, ``delivered_kwh``, ``min_fraction``, ``energy_cost``.
    guarantees_met : bool
        Every guaranteed session gets its whole request.
    energy_cost : float
        ``sum price * grid_import * dt`` [currency].
    warnings : list of str
    solve_seconds : float
        Wall time of this cabinet, model building included [s].
    lp_solves : int
        Number of simplex runs.
    iterations : int
        Simplex iterations over all runs.
    """

    id: str
    grid_import_kw: np.ndarray
    battery_charge_kw: np.ndarray
    battery_discharge_kw: np.ndarray
    battery_energy_kwh: np.ndarray
    overload_kw: np.ndarray
    net_kw: np.ndarray
    sessions: tuple[SessionPlan, ...]
    stages: dict[str, float]
    guarantees_met: bool
    energy_cost: float
    warnings: list[str] = field(default_factory=list)
    solve_seconds: float = 0.0
    lp_solves: int = 0
    iterations: int = 0

    @property
    def requested_kwh(self) -> float:
        """Energy requested by the cabinet's sessions [kWh]."""
        return float(sum(s.requested_kwh for s in self.sessions))

    @property
    def delivered_kwh(self) -> float:
        """Energy planned for the cabinet's sessions [kWh]."""
        return float(sum(s.delivered_kwh for s in self.sessions))

    def session(self, session_id: str) -> SessionPlan:
        """The plan of one session (``KeyError`` if absent)."""
        for s in self.sessions:
            if s.id == session_id:
                return s
        raise KeyError(session_id)

    def to_dict(self) -> dict[str, Any]:
        """The spec's cabinet object (plus ``overload_kw`` and ``stages``)."""
        return {
            "id": self.id,
            "grid_import_kw": [float(x) for x in self.grid_import_kw],
            "battery_charge_kw": [float(x) for x in self.battery_charge_kw],
            "battery_discharge_kw": [float(x) for x in self.battery_discharge_kw],
            "battery_energy_kwh": [float(x) for x in self.battery_energy_kwh],
            "overload_kw": [float(x) for x in self.overload_kw],
            "stages": {k: float(v) for k, v in self.stages.items()},
        }


@dataclass(frozen=True, eq=False)
class Plan:
    """A whole plan, as the spec's plan JSON.

    Parameters
    ----------
    status : str
        ``"optimal"`` or ``"infeasible_guarantees"``.
    sessions : tuple of SessionPlan
        In scenario order.
    cabinets : tuple of CabinetPlan
        In scenario order.
    totals : dict
        ``requested_kwh``, ``delivered_kwh`` [kWh], ``energy_cost`` [currency].
    warnings : list of str
    solve_seconds : float
        Wall time from the parsed scenario to the finished plan [s].
    """

    status: str
    sessions: tuple[SessionPlan, ...]
    cabinets: tuple[CabinetPlan, ...]
    totals: dict[str, float]
    warnings: list[str]
    solve_seconds: float

    def session(self, session_id: str) -> SessionPlan:
        """The plan of one session (``KeyError`` if absent)."""
        for s in self.sessions:
            if s.id == session_id:
                return s
        raise KeyError(session_id)

    def cabinet(self, cabinet_id: str) -> CabinetPlan:
        """The plan of one cabinet (``KeyError`` if absent)."""
        for c in self.cabinets:
            if c.id == cabinet_id:
                return c
        raise KeyError(cabinet_id)

    def to_dict(self) -> dict[str, Any]:
        """The spec's plan JSON object."""
        return {
            "status": self.status,
            "sessions": [s.to_dict() for s in self.sessions],
            "cabinets": [c.to_dict() for c in self.cabinets],
            "totals": {k: float(v) for k, v in self.totals.items()},
            "warnings": list(self.warnings),
            "solve_seconds": float(self.solve_seconds),
        }


# --------------------------------------------------------------------------- stages


@dataclass(eq=False)
class _Staged:
    """A cabinet model inside HiGHS after stages 0 (and optionally 1)."""

    model: CabinetModel
    lp: LpHandle
    stages: dict[str, float]
    guarantees_met: bool
    guaranteed_target: float


def _p_mask_cost(m: CabinetModel, mask: np.ndarray, coef: float) -> tuple[np.ndarray, np.ndarray]:
    cols = np.flatnonzero(mask[m.p_sess])
    return cols, np.full(cols.size, coef)


def _stage(lp: LpHandle, cols: np.ndarray, coef: np.ndarray, *, maximise: bool) -> float:
    """Optimise ``coef . x[cols]`` and pin the optimum with a row; returns the optimum."""
    cost = np.zeros(lp.n_col)
    cost[cols] = -coef if maximise else coef
    lp.set_cost(cost)
    v = lp.solve()
    if maximise:
        v = -v
        lp.add_row(cols, coef, v - stage_tolerance(v), INF)
    else:
        lp.add_row(cols, coef, -INF, v + stage_tolerance(v))
    return v


def _early_cost(m: CabinetModel, n_col: int) -> np.ndarray:
    """Stage-5 cost: energy weighted by its step, plus a tiny battery-cycling penalty."""
    inp = m.inp
    N = m.n_p
    w = inp.w
    hours = float(w.sum())
    centre = np.cumsum(w) - w / 2  # middle of each step / block [h]
    cost = np.zeros(n_col)
    cost[:N] = w[m.p_t] * (centre[m.p_t] + inp.dt) / hours
    if m.c is not None and m.d is not None:
        cost[m.c] = CYCLE_PENALTY * w * inp.dt / hours
        cost[m.d] = CYCLE_PENALTY * w * inp.dt / hours
    return cost


def stage_overload_and_guarantees(m: CabinetModel, prelude: np.ndarray | None = None) -> _Staged:
    """Load a model into HiGHS and run stages 0 and 1.

    Parameters
    ----------
    m : CabinetModel
    prelude : ndarray, optional
        Extra cost vector (minimised) to warm-start with: a weighted mix of the later
        stages' objectives. When given, HiGHS first solves the weighted mix of
        stages 0, 1 and ``prelude``; the exact stages then start from that basis and
        usually need few pivots. It never changes the result, only the speed.

    Returns
    -------
    _Staged
        The handle with both optima pinned.
    """
    inp = m.inp
    w = inp.w
    lp = LpHandle.from_model(m)
    stages: dict[str, float] = {}
    can_overload = bool(np.any(inp.base_load_kw - inp.threshold_kw > 0))
    if not can_overload:
        lp.set_bounds(m.o, np.zeros(m.o.size), np.zeros(m.o.size))
    gsel = inp.guaranteed & (inp.energy_kwh > 0)
    gcols = np.flatnonzero(gsel[m.p_sess])
    if prelude is not None:
        mix = prelude.copy()
        if can_overload:
            mix[m.o] += PRELUDE_OVERLOAD * w
        mix[gcols] -= PRELUDE_GUARANTEE * w[m.p_t[gcols]]
        lp.set_cost(mix)
        lp.solve()
    # stage 0: overload
    if can_overload:
        stages["overload_kwh"] = _stage(lp, m.o, w.copy(), maximise=False)
    else:
        stages["overload_kwh"] = 0.0
    # stage 1: guarantees
    target = float(inp.energy_kwh[gsel].sum())
    met = True
    if gsel.any():
        v1 = _stage(lp, gcols, w[m.p_t[gcols]], maximise=True) if gcols.size else 0.0
        stages["guaranteed_kwh"] = v1
        met = v1 >= target - 1e-6 * max(1.0, target)
    return _Staged(model=m, lp=lp, stages=stages, guarantees_met=met, guaranteed_target=target)


def solve_cabinet(inp: CabinetInput, *, early: bool = True, prelude: bool = True, blocks: bool = True) -> CabinetPlan:
    """Plan one cabinet: stages 0-4 exactly, then stage 5.

    Parameters
    ----------
    inp : CabinetInput
        The cabinet's data (see :func:`engine.optimize.lp_model.cabinet_input`).
    early : bool
        Run stage 5 (charge as early as possible). Without it the plan is an arbitrary
        optimum of stages 0-4.
    prelude : bool
        Warm-start the exact stages from one solve of a weighted mix of all of them
        (faster; same result).
    blocks : bool
        Solve on blocks of steps in which nothing changes (:func:`engine.optimize.lp_model.aggregate`;
        same optima of stages 0-4, much smaller LP; stage 5 then front-loads the
        energy inside each block).

    Returns
    -------
    CabinetPlan
    """
    t0 = time.perf_counter()
    orig = inp
    block_of = np.arange(inp.horizon_steps)
    if blocks and inp.step_hours is None:
        inp, block_of = aggregate(inp)
    w = inp.w
    E = inp.energy_kwh
    has_price = bool(np.any(inp.price_per_kwh > 0))
    fair_sessions = E > 0
    need_fair = int(fair_sessions.sum()) >= 2 and bool(np.all(inp.hi[fair_sessions] > inp.lo[fair_sessions]))
    m = build_model(inp, with_import=has_price, with_fairness=need_fair)
    N = m.n_p
    gsel = inp.guaranteed & (E > 0)
    skip2 = N == 0 or (bool(gsel.any()) and bool(np.all(gsel | (E <= 0))))
    mix: np.ndarray | None = None
    if prelude and N > 0:
        n_col = m.n_col
        mix = np.zeros(n_col)
        mix[:N] -= w[m.p_t]
        if m.z >= 0:
            mix[m.z] -= PRELUDE_FAIRNESS
        if has_price:
            ccols, ccoef, _ = m.cost_objective()
            mix[ccols] += PRELUDE_COST / float(inp.price_per_kwh.max()) * ccoef
        if early:
            mix += PRELUDE_EARLY * _early_cost(m, n_col)
    st = stage_overload_and_guarantees(m, mix)
    lp, stages = st.lp, st.stages
    all_p = np.arange(N)
    # stage 2: total energy
    total_req = float(E.sum())
    if N == 0:
        stages["delivered_kwh"] = 0.0
    elif skip2:
        stages["delivered_kwh"] = stages["guaranteed_kwh"]  # stage 1 already maximised every session
    else:
        stages["delivered_kwh"] = _stage(lp, all_p, w[m.p_t], maximise=True)
    # stage 3: fairness
    if need_fair and stages["delivered_kwh"] < total_req - stage_tolerance(total_req):
        stages["min_fraction"] = _stage(lp, np.array([m.z]), np.ones(1), maximise=True)
    # stage 4: cost
    if has_price:
        ccols, ccoef, const = m.cost_objective()
        stages["energy_cost"] = _stage(lp, ccols, ccoef, maximise=False) + const
    # stage 5: early charging (or a plain feasible point when nothing was solved)
    if early or lp.solves == 0:
        lp.set_cost(_early_cost(m, lp.n_col) if early else np.zeros(lp.n_col))
        lp.solve()
    x = lp.x()
    return _extract(m, x, stages, st.guarantees_met, t0, lp, orig, block_of)


def _front_load(
    power: np.ndarray, m: CabinetModel, x: np.ndarray, block_of: np.ndarray, battery_kw: np.ndarray, ub: np.ndarray
) -> None:
    """Stage 5 inside blocks: move each session's block energy to the block's first steps.

    The block LP gives every session a constant power over a block. Within a block all
    data are constant, so the energy can be front-loaded step by step (earliest
    departure first, each session up to its cap, the sessions together up to the
    block's headroom) without touching any stage 0-4 value: the battery keeps its
    block power, and the net load keeps its sign at every step (so the cost stays
    linear); a block with overload, or whose front-loaded net load would change sign,
    keeps its constant power.

    Parameters
    ----------
    power : ndarray
        Per-step power (sessions x T) [kW], modified in place.
    m : CabinetModel
        The block model (its ``inp`` holds the block data).
    x : ndarray
        Block solution.
    block_of : ndarray
        Block of every step.
    battery_kw : ndarray
        Battery charge minus discharge per block [kW].
    ub : ndarray
        Power cap per session [kW].
    """
    blk = m.inp
    lens = np.bincount(block_of, minlength=blk.horizon_steps)
    first = np.concatenate([[0], np.cumsum(lens)[:-1]])
    over = np.maximum(x[m.o], 0.0)
    base = blk.other_load_kw - blk.pv_kw + battery_kw
    for bi in np.flatnonzero(lens > 1):
        t0, L = int(first[bi]), int(lens[bi])
        rate = power[:, t0].copy()
        act = np.flatnonzero(rate > 0)
        if act.size == 0 or over[bi] > OVERLOAD_EPS_KW:
            continue
        total = float(rate[act].sum())
        floor = 0.0
        if base[bi] >= 0:
            cap = float(blk.threshold_kw[bi] - base[bi])
        elif base[bi] + total <= 0:
            cap = float(-base[bi])  # keep exporting at every step
        else:
            cap = float(blk.threshold_kw[bi] - base[bi])
            floor = float(-base[bi])  # keep importing at every step
        cap = max(cap, total)
        order = act[np.argsort(blk.hi[act], kind="stable")]  # earliest departure first
        left = rate[order] * L  # [kW x steps]
        u = ub[order]
        for j in range(L):
            rem = L - j - 1
            must = np.maximum(left - u * rem, 0.0)
            extra = np.minimum(u, left) - must
            room = max(cap - float(must.sum()), 0.0)
            take = np.clip(room - (np.cumsum(extra) - extra), 0.0, extra)
            step = must + take
            power[order, t0 + j] = step
            left = np.maximum(left - step, 0.0)
        power[order, t0 + L - 1] += left  # round-off remainder (at most ~1e-9 kW x steps)
        left = np.zeros_like(left) if left.max() <= 1e-9 * max(1.0, total * L) else left
        ev = power[:, t0 : t0 + L].sum(axis=0)
        if left.max() > 1e-9 * max(1.0, total * L) or ev.min() < floor - 1e-9:
            power[:, t0 : t0 + L] = rate[:, None]  # keep the block's constant power


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index of every run of True."""
    if not mask.any():
        return []
    idx = np.flatnonzero(mask)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def _extract(
    m: CabinetModel,
    x: np.ndarray,
    stages: dict[str, float],
    guarantees_met: bool,
    t0: float,
    lp: LpHandle,
    inp: CabinetInput,
    block_of: np.ndarray,
) -> CabinetPlan:
    """Expand the (block) solution to steps and compute the reported arrays."""
    T, dt, S = inp.horizon_steps, inp.dt, len(inp.session_ids)
    N = m.n_p
    ub = inp.max_kw[m.p_sess]
    p = np.clip(x[:N], 0.0, ub)
    p[p < ZERO_KW] = 0.0
    B = m.inp.horizon_steps
    power_b = np.zeros((S, B))
    power_b[m.p_sess, m.p_t] = p
    zeros = np.zeros(T)
    ch_b = np.zeros(B)
    dis_b = np.zeros(B)
    if m.c is not None and m.d is not None and m.e is not None and inp.battery is not None:
        b = inp.battery
        ch_b = np.clip(x[m.c], 0.0, b.max_charge_kw)
        dis_b = np.clip(x[m.d], 0.0, b.max_discharge_kw)
        ch_b[ch_b < ZERO_KW] = 0.0
        dis_b[dis_b < ZERO_KW] = 0.0
        ch, dis = ch_b[block_of], dis_b[block_of]
        flow = (b.efficiency * ch - dis / b.efficiency) * dt
        en = np.clip(b.energy_kwh + np.cumsum(flow), b.min_energy_kwh, b.capacity_kwh)
    else:
        ch, dis, en = zeros, zeros.copy(), zeros.copy()
    power = power_b[:, block_of]
    if B < T:
        _front_load(power, m, x, block_of, ch_b - dis_b, ub=inp.max_kw)
    delivered = power.sum(axis=1) * dt
    net = power.sum(axis=0) + inp.other_load_kw + ch - dis - inp.pv_kw
    grid = np.maximum(net, 0.0)
    over = net - inp.threshold_kw
    over = np.where(over > OVERLOAD_EPS_KW, over, 0.0)
    cost = float(np.sum(inp.price_per_kwh * grid) * dt)
    sessions = tuple(
        SessionPlan(
            id=sid,
            cabinet=inp.cabinet_id,
            requested_kwh=float(inp.energy_kwh[i]),
            delivered_kwh=float(delivered[i]),
            met=bool(delivered[i] >= inp.energy_kwh[i] - MET_TOL_KWH),
            power_kw=power[i],
            guaranteed=bool(inp.guaranteed[i]),
        )
        for i, sid in enumerate(inp.session_ids)
    )
    warnings: list[str] = []
    for a, b in _runs(over > 0):
        kwh = float(over[a : b + 1].sum() * dt)
        steps = f"step {a}" if a == b else f"steps {a}-{b}"
        warnings.append(
            f"{inp.cabinet_id}: {kwh:.1f} kWh over the threshold at {steps} even with every EV at zero"
        )
    if not guarantees_met:
        short = [s.id for s in sessions if s.guaranteed and s.requested_kwh > 0 and not s.met]
        got = stages.get("guaranteed_kwh", 0.0)
        target = float(inp.energy_kwh[inp.guaranteed].sum())
        warnings.append(
            f"{inp.cabinet_id}: guaranteed sessions can get only {got:.1f} of {target:.1f} kWh"
            + (f" ({', '.join(short)} not met)" if short else "")
        )
    return CabinetPlan(
        id=inp.cabinet_id,
        grid_import_kw=grid,
        battery_charge_kw=ch,
        battery_discharge_kw=dis,
        battery_energy_kwh=en,
        overload_kw=over,
        net_kw=net,
        sessions=sessions,
        stages=dict(stages),
        guarantees_met=guarantees_met,
        energy_cost=cost,
        warnings=warnings,
        solve_seconds=time.perf_counter() - t0,
        lp_solves=lp.solves,
        iterations=lp.iterations,
    )


# --------------------------------------------------------------------------- public API


def plan_cabinet(
    scenario: Scenario,
    cabinet_id: str,
    sessions: Sequence[SessionSpec] | None = None,
    *,
    early: bool = True,
    blocks: bool = True,
) -> CabinetPlan:
    """Plan one cabinet of a scenario (the cheap entry point for online re-planning).

    Parameters
    ----------
    scenario : Scenario
        Supplies the horizon, step, prices, the cabinet and the charge points.
    cabinet_id : str
    sessions : sequence of SessionSpec, optional
        The sessions to plan (all on this cabinet's charge points); default: the
        scenario's sessions on this cabinet.
    early : bool
        Run stage 5 (charge as early as possible).
    blocks : bool
        Solve on blocks of equal-data steps (same stage optima; faster).

    Returns
    -------
    CabinetPlan
    """
    try:
        scenario.cabinet(cabinet_id)
    except KeyError:
        raise ScenarioError("cabinet", f"unknown cabinet {cabinet_id!r}") from None
    cp_cab = check_references(scenario.cabinets, scenario.charge_points, scenario.sessions)
    if sessions is not None:
        for i, s in enumerate(sessions):
            if cp_cab.get(s.cp) != cabinet_id:
                raise ScenarioError(f"sessions[{i}].cp", f"charge point {s.cp!r} is not on cabinet {cabinet_id!r}")
    return solve_cabinet(cabinet_input(scenario, cabinet_id, sessions), early=early, blocks=blocks)


def _workers(n: int) -> int:
    env = os.environ.get("ENGINE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return min(n, int(env))
    return max(1, min(n, os.cpu_count() or 1))


def plan(scenario: Scenario, *, early: bool = True, workers: int | None = None, blocks: bool = True) -> Plan:
    """Plan a whole scenario: every cabinet through stages 0-5.

    Parameters
    ----------
    scenario : Scenario
    early : bool
        Run stage 5 (charge as early as possible).
    workers : int, optional
        Threads solving cabinets in parallel (HiGHS releases the GIL); default: the
        number of CPUs (env ``ENGINE_THREADS`` overrides).
    blocks : bool
        Solve on blocks of equal-data steps (same stage optima; faster). ``False``
        solves the per-step LP (for comparison).

    Returns
    -------
    Plan
    """
    t0 = time.perf_counter()
    cp_cab = check_references(scenario.cabinets, scenario.charge_points, scenario.sessions)
    by_cab: dict[str, list[SessionSpec]] = {c.id: [] for c in scenario.cabinets}
    for s in scenario.sessions:
        by_cab[cp_cab[s.cp]].append(s)
    inputs = [cabinet_input(scenario, c.id, by_cab[c.id]) for c in scenario.cabinets]
    n_workers = _workers(len(inputs)) if workers is None else max(1, min(workers, len(inputs)))
    # hardest first so that the pool stays busy (a battery roughly triples the pivots)
    def work(inp: CabinetInput) -> float:
        return float(np.maximum(inp.hi - inp.lo, 0).sum()) * (3.0 if inp.battery is not None else 1.0)

    order = sorted(range(len(inputs)), key=lambda i: -work(inputs[i]))
    results: list[CabinetPlan | None] = [None] * len(inputs)
    if n_workers > 1 and len(inputs) > 1:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            futs = {i: pool.submit(solve_cabinet, inputs[i], early=early, blocks=blocks) for i in order}
            for i, f in futs.items():
                results[i] = f.result()
    else:
        for i in order:
            results[i] = solve_cabinet(inputs[i], early=early, blocks=blocks)
    cabinets = tuple(r for r in results if r is not None)
    by_id = {sp.id: sp for c in cabinets for sp in c.sessions}
    sessions = tuple(by_id[s.id] for s in scenario.sessions)
    warnings = [w for c in cabinets for w in c.warnings]
    status = "optimal" if all(c.guarantees_met for c in cabinets) else "infeasible_guarantees"
    totals = {
        "requested_kwh": float(sum(s.requested_kwh for s in sessions)),
        "delivered_kwh": float(sum(s.delivered_kwh for s in sessions)),
        "energy_cost": float(sum(c.energy_cost for c in cabinets)),
    }
    return Plan(
        status=status,
        sessions=sessions,
        cabinets=cabinets,
        totals=totals,
        warnings=warnings,
        solve_seconds=time.perf_counter() - t0,
    )
