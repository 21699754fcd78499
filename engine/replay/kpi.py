"""Replay KPIs: the spec's fixed keys, computed from per-session and per-step results."""

from __future__ import annotations

import numpy as np

__all__ = ["KPI_KEYS", "MET_FRACTION", "compute_kpis", "session_met"]

KPI_KEYS = (
    "algorithm",
    "sessions",
    "requested_kwh",
    "delivered_kwh",
    "energy_delivered_pct",
    "demands_met_pct",
    "peak_kw",
    "overload_kwh",
    "energy_cost",
    "solve_ms_median",
    "wall_seconds",
)
MET_FRACTION = 0.99


def session_met(demand_kwh: np.ndarray, delivered_kwh: np.ndarray) -> np.ndarray:
    """Whether each session got at least 99 % of its demand.

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
    return delivered_kwh >= MET_FRACTION * demand_kwh - 1e-9


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
) -> dict:
    """The spec's KPI object.

    Parameters
    ----------
    algorithm : str
        Strategy name.
    demand_kwh : ndarray
        Each session's demand, the replay's "requested" energy [kWh].
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

    Returns
    -------
    dict
        Keys :data:`KPI_KEYS`. Percentages of an empty session set are 100.0 (nothing was
        asked, nothing was missed). ``demands_met_pct`` counts sessions given at least
        99 % of their demand.
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
    return {
        "algorithm": algorithm,
        "sessions": n,
        "requested_kwh": round(req, 3),
        "delivered_kwh": round(dlv, 3),
        "energy_delivered_pct": round(energy_pct, 2),
        "demands_met_pct": round(met_pct, 2),
        "peak_kw": round(float(load.max()) if load.size else 0.0, 3),
        "overload_kwh": round(over_kwh, 4),
        "energy_cost": round(cost, 4),
        "solve_ms_median": round(float(np.median(solve)) * 1000.0, 3) if solve.size else 0.0,
        "wall_seconds": round(float(wall_seconds), 3),
    }
