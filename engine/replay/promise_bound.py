"""What the promises already made leave for a car: a hindsight bound for ``mpc``.

``mpc`` promises every arriving driver ``min(request, quote)`` and keeps every promise. At a
tight threshold the capacity of a busy day is then mostly promised first come, first served,
and a car arriving later cannot be given its need *whatever the plan does afterwards*. This
module measures that with hindsight: for a car ``c``, the most energy any schedule could give
``c`` while keeping every promise made before ``c``'s (every car's real window, rate and the
threshold known in advance; the promises made after ``c`` are ignored, so this is an upper
bound on what ``c`` can get in any replay with the same earlier promises).

If the bound is below 99 % of the car's need, no tie-break among the engine's plans, no
timing of the promised energy and no re-planning policy could have met that car given the
promises made before it arrived: the demand is lost to the promise policy (the spec's
``min(request, quote)``), not to the plan.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.replay.problem import ReplayProblem

__all__ = ["promise_bound"]

PROMISE_TOL_KWH = 1e-4
"""Slack on every earlier promise [kWh] (the replay keeps promises to the planner's tolerance)."""
PROMISE_TOL_REL = 1e-6


def promise_bound(
    problem: ReplayProblem,
    promised_kwh: np.ndarray,
    order: Sequence[int],
    cars: Sequence[int],
) -> np.ndarray:
    """The most energy each car could get given the promises made before its own [kWh].

    Parameters
    ----------
    problem : ReplayProblem
        The replay (real windows, rates, threshold, needs).
    promised_kwh : ndarray
        What each car was promised at arrival [kWh] (``ModelPredictive.promised_kwh``).
    order : sequence of int
        The cars in the order they were promised (``ModelPredictive.promise_order``).
    cars : sequence of int
        The cars to bound.

    Returns
    -------
    ndarray
        For each car in ``cars``, the maximum energy it can be given (at most its need) by
        any schedule that keeps the threshold and every promise made before its own [kWh].
    """
    # scipy.optimize is a heavy import (about half a second) that only this analysis needs
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, vstack

    pr = problem
    dt = pr.dt_hours
    rank = {int(i): k for k, i in enumerate(order)}
    out = np.zeros(len(cars))
    for n_out, c in enumerate(cars):
        c = int(c)
        if c not in rank:
            raise ValueError(f"car {c} was never promised")
        prev = [int(i) for i in order[: rank[c]]]
        group = prev + [c]
        ci: list[np.ndarray] = []
        ct: list[np.ndarray] = []
        for k, i in enumerate(group):
            ts = np.arange(int(pr.arrival_step[i]), int(pr.departure_step[i]))
            ci.append(np.full(ts.size, k))
            ct.append(ts)
        car = np.concatenate(ci)
        tt = np.concatenate(ct)
        n = car.size
        if n == 0 or int(pr.departure_step[c]) <= int(pr.arrival_step[c]):
            continue
        steps, row_t = np.unique(tt, return_inverse=True)
        cols = np.arange(n)
        a_step = coo_matrix((np.ones(n), (row_t, cols)), shape=(steps.size, n))
        a_car = coo_matrix((np.full(n, dt), (car, cols)), shape=(len(group), n))
        need = pr.demand_kwh[group].astype(float)
        kept = promised_kwh[prev].astype(float)
        floor = np.maximum(kept * (1.0 - PROMISE_TOL_REL) - PROMISE_TOL_KWH, 0.0)
        a_ub = vstack([a_step, a_car, -a_car.tocsr()[: len(prev)]]).tocsr()
        b_ub = np.concatenate([np.full(steps.size, float(pr.threshold_kw)), need, -floor])
        cost = np.where(car == len(group) - 1, -dt, 0.0)
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=np.column_stack([np.zeros(n), pr.max_kw[group][car]]),
                      method="highs")
        if res.status != 0:
            raise RuntimeError(f"promise bound of car {c}: {res.message}")
        out[n_out] = min(-float(res.fun), float(pr.demand_kwh[c]))
    return out
