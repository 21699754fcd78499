"""Replay KPIs: the spec's fixed keys, computed from per-session and per-step results."""

from __future__ import annotations

import numpy as np

__all__ = ["KPI_KEYS", "MET_FRACTION", "PROMISE_TOL_KWH", "compute_kpis", "session_met", "promise_kept"]

KPI_KEYS = (
    "algorithm",
    "sessions",
    "requested_kwh",
    "deliverable_kwh",
    "delivered_kwh",
    "energy_delivered_pct",
    "demands_met_pct",
    "promises",
    "promised_kwh",
    "promises_kept",
    "peak_kw",
    "overload_kwh",
    "energy_cost",
    "solve_ms_median",
    "wall_seconds",
)
MET_FRACTION = 0.99
MET_SLACK_KWH = 1e-6
"""Absolute slack of the met rule [kWh] (solver tolerance; far below any meter's resolution)."""
PROMISE_TOL_KWH = 1e-3
"""A promise is kept when the car got at least ``promised - PROMISE_TOL_KWH`` [kWh]."""


def session_met(demand_kwh: np.ndarray, delivered_kwh: np.ndarray) -> np.ndarray:
    """Whether each session got at least 99 % of its demand (to :data:`MET_SLACK_KWH`).

    Parameters
    ----------
    demand_kwh : ndarray
        What each session needed [kWh].
    delivered_kwh : ndarray
        What it got [kWh].

    Returns
    -------
    ndarray of bool
    """
    demand_kwh = np.asarray(demand_kwh, dtype=float)
    delivered_kwh = np.asarray(delivered_kwh, dtype=float)
    return delivered_kwh >= MET_FRACTION * demand_kwh - MET_SLACK_KWH


def promise_kept(promised_kwh: np.ndarray, delivered_kwh: np.ndarray) -> np.ndarray:
    """Whether each car got at least its promise (to :data:`PROMISE_TOL_KWH`).

    Parameters
    ----------
    promised_kwh, delivered_kwh : ndarray
        Promise and energy got per car [kWh].

    Returns
    -------
    ndarray of bool
    """
    return np.asarray(delivered_kwh, dtype=float) >= np.asarray(promised_kwh, dtype=float) - PROMISE_TOL_KWH


def compute_kpis(
    algorithm: str,
    demand_kwh: np.ndarray,
    delivered_kwh: np.ndarray,
    load_kw: np.ndarray,
    threshold_kw: float,
    price_per_kwh: np.ndarray,
    dt_hours: float,
    solve_seconds: list[float] | np.ndarray,
    wall_seconds: float,
    *,
    requested_kwh: np.ndarray | None = None,
    promised_kwh: np.ndarray | None = None,
    stayed: np.ndarray | None = None,
) -> dict:
    """The spec's KPI object.

    Parameters
    ----------
    algorithm : str
        Strategy name.
    demand_kwh : ndarray
        Each session's deliverable need: its need capped to what its charge point can give
        over its stay [kWh].
    delivered_kwh : ndarray
        Energy each session got [kWh].
    load_kw : ndarray
        Site load per step [kW].
    threshold_kw : float
        Import limit [kW].
    price_per_kwh : ndarray
        Price per step [$/kWh].
    dt_hours : float
        Step length [h].
    solve_seconds : sequence of float
        Time of each decision (one per step for heuristics, per engine call for mpc) [s].
    wall_seconds : float
        Wall time of the whole replay [s].
    requested_kwh : ndarray, optional
        Each session's need as the data give it, before capping [kWh]; default ``demand_kwh``.
    promised_kwh : ndarray, optional
        What each car was promised at the kiosk [kWh] (strategies that promise); default none.
    stayed : ndarray of bool, optional
        Whether each car stayed until the departure it stated (default all): only those
        count in ``promises_kept``.

    Returns
    -------
    dict
        Keys :data:`KPI_KEYS`. Percentages of an empty session set are 100.0 (nothing was
        asked, nothing was missed). ``energy_delivered_pct`` is delivered / deliverable;
        ``demands_met_pct`` counts sessions given at least 99 % of their deliverable need;
        ``promises`` the sessions given a non-zero promise, ``promised_kwh`` their sum,
        ``promises_kept`` those of them that stayed until their stated departure and got at
        least their promise.
    """
    demand = np.asarray(demand_kwh, dtype=float)
    got = np.asarray(delivered_kwh, dtype=float)
    load = np.asarray(load_kw, dtype=float)
    price = np.asarray(price_per_kwh, dtype=float)
    n = int(demand.size)
    req = float(demand.sum())
    dlv = float(got.sum())
    energy_pct = 100.0 * dlv / req if req > 0 else 100.0
    met_pct = 100.0 * float(session_met(demand, got).sum()) / n if n else 100.0
    over = np.maximum(load - threshold_kw, 0.0)
    over_kwh = float(over.sum() * dt_hours)
    if over_kwh < 1e-6:  # solver tolerance, not energy
        over_kwh = 0.0
    cost = float((price * load).sum() * dt_hours) if load.size else 0.0
    solve = np.asarray(solve_seconds, dtype=float)
    asked = float(np.asarray(requested_kwh, dtype=float).sum()) if requested_kwh is not None else req
    if promised_kwh is not None:
        prom = np.asarray(promised_kwh, dtype=float)
        has = prom > 1e-6
        stay = np.ones(n, dtype=bool) if stayed is None else np.asarray(stayed, dtype=bool)
        n_prom, kwh_prom = int(has.sum()), float(prom[has].sum())
        n_kept = int((has & stay & promise_kept(prom, got)).sum())
    else:
        n_prom, kwh_prom, n_kept = 0, 0.0, 0
    return {
        "algorithm": algorithm,
        "sessions": n,
        "requested_kwh": round(asked, 3),
        "deliverable_kwh": round(req, 3),
        "delivered_kwh": round(dlv, 3),
        "energy_delivered_pct": round(energy_pct, 2),
        "demands_met_pct": round(met_pct, 2),
        "promises": n_prom,
        "promised_kwh": round(kwh_prom, 3),
        "promises_kept": n_kept,
        "peak_kw": round(float(load.max()) if load.size else 0.0, 3),
        "overload_kwh": round(over_kwh, 4),
        "energy_cost": round(cost, 4),
        "solve_ms_median": round(float(np.median(solve)) * 1000.0, 3) if solve.size else 0.0,
        "wall_seconds": round(float(wall_seconds), 3),
    }
