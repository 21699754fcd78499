"""The lexicographic stages 0-5 of the engine spec on one cabinet's LP (:func:`solve_cabinet`).

Each cabinet is an independent LP (:mod:`engine.optimize.lp_model`), built on blocks of
consecutive steps with identical data (:func:`engine.optimize.cabinet_input.aggregate`, exact for
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

import time
from dataclasses import dataclass

import numpy as np

from engine.optimize.cabinet_input import CabinetInput, aggregate
from engine.optimize.highs import INF, LpHandle
from engine.optimize.lp_model import CabinetModel, build_model
from engine.optimize.plans import MET_TOL_KWH, CabinetPlan, SessionPlan

__all__ = ["solve_cabinet", "stage_overload_and_guarantees", "stage_tolerance", "TOL_REL", "TOL_ABS"]

TOL_REL = 1e-8
"""Relative slack given to an earlier stage's optimum when it becomes a constraint."""
TOL_ABS = 1e-8
"""Absolute slack given to an earlier stage's optimum when it becomes a constraint."""
OVERLOAD_EPS_KW = 1e-6
"""Overload below this [kW] is solver noise, not reported."""
ZERO_KW = 1e-9
"""Powers below this [kW] are solver round-off and reported as exactly 0."""
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


@dataclass(eq=False)
class _Staged:
    """A cabinet model inside HiGHS after stages 0 (and optionally 1)."""

    model: CabinetModel
    lp: LpHandle
    stages: dict[str, float]
    guarantees_met: bool
    guaranteed_target: float


def _p_mask_cost(m: CabinetModel, mask: np.ndarray, coef: float) -> tuple[np.ndarray, np.ndarray]:
    cols = np.flatnonzero(mask[m.power_session])
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
    cost[:N] = w[m.power_step] * (centre[m.power_step] + inp.dt) / hours
    if m.charge_cols is not None and m.discharge_cols is not None:
        cost[m.charge_cols] = CYCLE_PENALTY * w * inp.dt / hours
        cost[m.discharge_cols] = CYCLE_PENALTY * w * inp.dt / hours
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
    lp = m.handle()
    stages: dict[str, float] = {}
    can_overload = bool(np.any(inp.base_load_kw - inp.threshold_kw > 0))
    if not can_overload:
        lp.set_bounds(m.overload_cols, np.zeros(m.overload_cols.size), np.zeros(m.overload_cols.size))
    gsel = inp.guaranteed & (inp.energy_kwh > 0)
    gcols = np.flatnonzero(gsel[m.power_session])
    if prelude is not None:
        mix = prelude.copy()
        if can_overload:
            mix[m.overload_cols] += PRELUDE_OVERLOAD * w
        mix[gcols] -= PRELUDE_GUARANTEE * w[m.power_step[gcols]]
        lp.set_cost(mix)
        lp.solve()
    # stage 0: overload
    if can_overload:
        stages["overload_kwh"] = _stage(lp, m.overload_cols, w.copy(), maximise=False)
    else:
        stages["overload_kwh"] = 0.0
    # stage 1: guarantees
    target = float(inp.energy_kwh[gsel].sum())
    met = True
    if gsel.any():
        v1 = _stage(lp, gcols, w[m.power_step[gcols]], maximise=True) if gcols.size else 0.0
        stages["guaranteed_kwh"] = v1
        met = v1 >= target - 1e-6 * max(1.0, target)
    return _Staged(model=m, lp=lp, stages=stages, guarantees_met=met, guaranteed_target=target)


def solve_cabinet(inp: CabinetInput, *, early: bool = True, prelude: bool = True, blocks: bool = True) -> CabinetPlan:
    """Plan one cabinet: stages 0-4 exactly, then stage 5.

    Parameters
    ----------
    inp : CabinetInput
        The cabinet's data (see :func:`engine.optimize.cabinet_input.cabinet_input`).
    early : bool
        Run stage 5 (charge as early as possible). Without it the plan is an arbitrary
        optimum of stages 0-4.
    prelude : bool
        Warm-start the exact stages from one solve of a weighted mix of all of them
        (faster; same result).
    blocks : bool
        Solve on blocks of steps in which nothing changes (:func:`engine.optimize.cabinet_input.aggregate`;
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
        mix[:N] -= w[m.power_step]
        if m.fairness_col is not None:
            mix[m.fairness_col] -= PRELUDE_FAIRNESS
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
        stages["delivered_kwh"] = _stage(lp, all_p, w[m.power_step], maximise=True)
    # stage 3: fairness
    if need_fair and stages["delivered_kwh"] < total_req - stage_tolerance(total_req):
        stages["min_fraction"] = _stage(lp, np.array([m.fairness_col]), np.ones(1), maximise=True)
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
    over = np.maximum(x[m.overload_cols], 0.0)
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
    ub = inp.max_kw[m.power_session]
    p = np.clip(x[:N], 0.0, ub)
    p[p < ZERO_KW] = 0.0
    B = m.inp.horizon_steps
    power_b = np.zeros((S, B))
    power_b[m.power_session, m.power_step] = p
    zeros = np.zeros(T)
    ch_b = np.zeros(B)
    dis_b = np.zeros(B)
    if m.charge_cols is not None and m.discharge_cols is not None and m.stored_cols is not None and inp.battery is not None:
        b = inp.battery
        ch_b = np.clip(x[m.charge_cols], 0.0, b.max_charge_kw)
        dis_b = np.clip(x[m.discharge_cols], 0.0, b.max_discharge_kw)
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
