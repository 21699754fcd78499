"""Tie-breaking among the engine's optimal plans: which car takes the early capacity.

The engine's stage 5 charges as early as possible *in aggregate* (the site load profile);
which car charges at which step is a tie among optimal plans (every car's total and the
load per step, hence every stage's optimum, are the same). For online re-planning that
choice matters: energy left for later belongs to cars that can still wait, and a car with a
late deadline can make room for cars that have not arrived yet, a car about to leave cannot.

:func:`deadline_split` keeps the plan's load per step and every car's total and re-splits
the load by a small transportation LP (HiGHS) minimising ``sum p[s,t] (t+1) / deadline_s``:
each car charges early *relative to its own deadline*, the earliest deadlines first.
A car's cost may be multiplied by a ``weight``: with weight w it is split as if its deadline
were w times nearer (the runtime weighs promises, :mod:`engine.runtime.controller`,
docs/promises.md "Promises first").

Measured (``bench/replay_heldout.py``, real day x threshold cases): the split of the load
matters for energy (the engine's own split loses up to 2 pp, see :mod:`engine.replay.mpc`).
Ordering by latest start time (least laxity) instead of deadline gave the same KPIs on the 3
cases where mpc delivers less than llf. Letting the per-car totals move
inside the tie as well (same load per step, guarantees and the stage-3 fairness floor kept,
first maximising ``sum e_s / need_s``, then this deadline split) changed no KPI in any of
135 cases with actual departures: wherever mpc meets fewer demands than edf, every car it
misses got exactly its promise and no best-effort energy, so the tie has no energy to move
(see :mod:`engine.replay.promise_bound`). With estimated departures it was mixed (demands
met better in 6, worse in 4 of 135 cases, energy -1.3 to +0.6 kWh), so it was not kept.
"""

from __future__ import annotations

import numpy as np

from engine.optimize.highs import load_lp, optimum

__all__ = ["deadline_split"]


def deadline_split(power_kw: np.ndarray, deadline: np.ndarray, max_kw: np.ndarray,
                   weight: np.ndarray | None = None) -> np.ndarray | None:
    """Re-split a plan's load among its cars, each as early as possible within its deadline.

    Parameters
    ----------
    power_kw : ndarray, shape (k, H)
        The engine's plan for cars present from step 0 [kW].
    deadline : ndarray of int
        Each car's window end (exclusive) in plan steps.
    max_kw : ndarray
        Each car's rate limit [kW].
    weight : ndarray, optional
        Each car's multiplier of the cost of delay (default 1): a car with weight w is split
        as if its deadline were w times nearer.

    Returns
    -------
    ndarray or None
        A plan with the same load per step and the same total per car [kW], or None when
        the LP does not solve (then keep the engine's own split).
    """
    k, H = power_kw.shape
    if k <= 1:
        return power_kw
    p = np.clip(power_kw, 0.0, max_kw[:, None])
    load = p.sum(axis=0)
    total = p.sum(axis=1)
    busy = load > 1e-9
    hi = np.minimum(np.maximum(deadline.astype(np.int64), 0), H)
    # one column per (car, busy step inside its window)
    cols_car: list[np.ndarray] = []
    cols_t: list[np.ndarray] = []
    for s in range(k):
        ts = np.flatnonzero(busy[: hi[s]])
        cols_car.append(np.full(ts.size, s, dtype=np.int64))
        cols_t.append(ts)
    car = np.concatenate(cols_car)
    tt = np.concatenate(cols_t)
    n = car.size
    if n == 0:
        return p
    steps = np.flatnonzero(busy)
    row_of_t = np.full(H, -1, dtype=np.int64)
    row_of_t[steps] = np.arange(steps.size)
    # column-wise matrix: each column in its step's load row and its car's energy row
    a_start = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    a_index = np.empty(2 * n, dtype=np.int32)
    a_index[0::2] = row_of_t[tt]
    a_index[1::2] = steps.size + car
    a_value = np.ones(2 * n)
    rhs = np.concatenate([load[steps], total])
    slack = 1e-9 * (1.0 + rhs)
    cost = (tt + 1.0) / np.maximum(hi[car], 1)
    if weight is not None:
        cost = cost * np.asarray(weight, float)[car]
    x = optimum(load_lp(np.zeros(n), max_kw[car].astype(float), rhs - slack, rhs + slack,
                        a_start, a_index, a_value, cost))
    if x is None:
        return None
    x = np.clip(x, 0.0, max_kw[car])
    out = np.zeros((k, H))
    out[car, tt] = x
    return out
