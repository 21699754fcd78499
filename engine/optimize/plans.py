"""What the planner returns: a plan per session, per cabinet, for the site (the spec's plan JSON).

:class:`SessionPlan` (one session's power per step), :class:`CabinetPlan` (a cabinet's
sessions, battery, load and every stage's optimum) and :class:`Plan` (all cabinets);
``to_dict()`` gives the plan JSON of ``docs/engine.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.validate import by_id

__all__ = ["SessionPlan", "CabinetPlan", "Plan", "MET_TOL_KWH"]

MET_TOL_KWH = 1e-3
"""A session is ``met`` when ``delivered >= requested - MET_TOL_KWH`` (spec)."""


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
        return by_id(self.sessions, session_id)

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
        return by_id(self.sessions, session_id)

    def cabinet(self, cabinet_id: str) -> CabinetPlan:
        """The plan of one cabinet (``KeyError`` if absent)."""
        return by_id(self.cabinets, cabinet_id)

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
