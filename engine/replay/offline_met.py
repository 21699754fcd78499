"""``offline_met``: the hindsight maximum of demands met (a MILP), the upper bound of that KPI.

With every session known in advance (real windows, needs, the charge point rating and the
site's threshold), the most sessions that can each get at least 99 % of their need
(:data:`engine.replay.kpi.MET_FRACTION`, the ``demands_met_pct`` rule), then, with that set
fixed, the most energy in total.

The model is exact on blocks: the steps between consecutive arrival/departure steps form
blocks in which the same cars are present; with a constant threshold a block's energies
``x[i, b]`` are feasible step by step iff ``x[i, b] <= rate_i * len_b * dt`` and ``sum_i
x[i, b] <= threshold * len_b * dt`` (each car then charges at a constant power over the
block). Binary ``z_i``: ``sum_b x[i, b] >= 0.99 * need_i * z_i``; maximise ``sum z_i``
(``scipy.optimize.milp``, HiGHS), then maximise ``sum x`` with ``z`` fixed (an LP).
"""

from __future__ import annotations

import time

import numpy as np

from engine.replay.kpi import MET_FRACTION, MET_SLACK_KWH
from engine.replay.problem import ReplayProblem, StepView

__all__ = ["OfflineMet", "max_demands_met", "TIME_LIMIT_S"]

TIME_LIMIT_S = 120.0
"""HiGHS time limit of the MILP [s]; ``OfflineMet.optimal`` says whether it was proven."""


def max_demands_met(problem: ReplayProblem, time_limit: float = TIME_LIMIT_S) -> tuple[np.ndarray, np.ndarray, bool]:
    """The hindsight schedule that meets the most demands.

    Parameters
    ----------
    problem : ReplayProblem
        Real windows, needs, rates and the threshold.
    time_limit : float
        MILP time limit [s].

    Returns
    -------
    power_kw : ndarray, shape (n, T)
        Each car's power per step [kW].
    met : ndarray of bool
        The cars the MILP meets (>= 99 % of their need).
    optimal : bool
        Whether HiGHS proved the count optimal (else it is the best found in the time limit).
    """
    # scipy.optimize is a heavy import (about half a second) that only this bound needs: the
    # replay's other strategies, the CLI and the app's page load without it
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    pr = problem
    n, T, dt = pr.n, pr.horizon_steps, pr.dt_hours
    power = np.zeros((n, T))
    trivial = MET_FRACTION * pr.demand_kwh <= MET_SLACK_KWH  # met with nothing
    cars = [i for i in range(n) if not trivial[i] and pr.departure_step[i] > pr.arrival_step[i]]
    met = trivial.copy()
    if not cars:
        return power, met, True
    a = np.minimum(np.maximum(pr.arrival_step[cars].astype(int), 0), T)
    d = np.minimum(np.maximum(pr.departure_step[cars].astype(int), 0), T)
    bp = np.unique(np.concatenate([[0, T], a, d]))
    length = np.diff(bp).astype(float)
    col_car: list[int] = []
    col_blk: list[int] = []
    for k in range(len(cars)):
        b0, b1 = int(np.searchsorted(bp, a[k])), int(np.searchsorted(bp, d[k]))
        col_car.extend([k] * (b1 - b0))
        col_blk.extend(range(b0, b1))
    cc, cb = np.asarray(col_car), np.asarray(col_blk)
    nx, nk, nb = cc.size, len(cars), bp.size - 1
    need = pr.demand_kwh[cars].astype(float)
    rate = pr.max_kw[cars].astype(float)
    x_ub = rate[cc] * length[cb] * dt
    cap = float(pr.threshold_kw) * length * dt
    # rows: blocks (sum x <= cap), cars (sum x <= need), met (sum x - 0.99 need z >= 0)
    rows = np.concatenate([cb, nb + cc, nb + nk + cc, nb + nk + np.arange(nk)])
    cols = np.concatenate([np.arange(nx), np.arange(nx), np.arange(nx), nx + np.arange(nk)])
    vals = np.concatenate([np.ones(nx), np.ones(nx), np.ones(nx), -MET_FRACTION * need])
    A = coo_matrix((vals, (rows, cols)), shape=(nb + 2 * nk, nx + nk)).tocsr()
    lo = np.concatenate([np.full(nb, -np.inf), np.full(nk, -np.inf), np.zeros(nk)])
    hi = np.concatenate([cap, need, np.full(nk, np.inf)])
    cons = LinearConstraint(A, lo, hi)
    integrality = np.concatenate([np.zeros(nx), np.ones(nk)])
    cost = np.concatenate([np.zeros(nx), -np.ones(nk)])
    lb = np.zeros(nx + nk)
    ub = np.concatenate([x_ub, np.ones(nk)])
    res = milp(cost, integrality=integrality, bounds=Bounds(lb, ub), constraints=cons,
               options={"time_limit": time_limit, "mip_rel_gap": 0.0})
    if res.x is None:
        raise RuntimeError(f"offline_met: {res.message}")
    optimal = res.status == 0
    z = res.x[nx:] > 0.5
    # stage 2: that set fixed, the most energy
    lb2, ub2 = lb.copy(), ub.copy()
    lb2[nx:] = ub2[nx:] = z.astype(float)
    cost2 = np.concatenate([-np.ones(nx), np.zeros(nk)])
    res2 = milp(cost2, integrality=np.zeros(nx + nk), bounds=Bounds(lb2, ub2), constraints=cons,
                options={"time_limit": time_limit})
    x = (res2.x if res2.x is not None else res.x)[:nx]
    x = np.clip(x, 0.0, x_ub)
    for k, i in enumerate(cars):
        sel = cc == k
        for b, e in zip(cb[sel], x[sel]):
            power[i, bp[b]: bp[b + 1]] = e / (length[b] * dt)
    # solver tolerance: scale any step above the threshold back to it
    load = power.sum(axis=0)
    over = load > pr.threshold_kw
    if over.any():
        power[:, over] *= pr.threshold_kw / load[over]
    met = met.copy()
    met[cars] = z
    return power, met, optimal


class OfflineMet:
    """Hindsight maximum of demands met (see module doc)."""

    name = "offline_met"
    respects_threshold = True
    plans_at_reset = True
    decided = False

    def __init__(self, time_limit: float = TIME_LIMIT_S) -> None:
        self.time_limit = float(time_limit)
        self.solve_seconds: list[float] = []
        self.optimal = True

    def reset(self, problem: ReplayProblem) -> None:
        """Solve the whole window at once."""
        self.problem = problem
        t0 = time.perf_counter()
        self.power, self.met, self.optimal = max_demands_met(problem, self.time_limit)
        self.solve_seconds = [time.perf_counter() - t0]

    def step(self, view: StepView) -> np.ndarray:
        """The schedule's power at this step for the cars present [kW]."""
        return self.power[view.present, view.t]
