"""Plan a scenario: every cabinet through the lexicographic stages (:mod:`engine.optimize.stages`).

:func:`plan` solves every cabinet of a scenario, in parallel threads; :func:`plan_cabinet`
solves one cabinet with the given sessions (the cheap entry point for online re-planning).
Each cabinet is an independent LP (:mod:`engine.optimize.lp_model`) on blocks of steps with
identical data (:func:`engine.optimize.cabinet_input.aggregate`).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from engine.optimize.cabinet_input import CabinetInput, cabinet_input
from engine.optimize.plans import CabinetPlan, Plan, SessionPlan
from engine.optimize.scenario import Scenario, ScenarioError, SessionSpec, check_references
from engine.optimize.stages import solve_cabinet

__all__ = ["SessionPlan", "CabinetPlan", "Plan", "plan", "plan_cabinet", "solve_cabinet"]


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
