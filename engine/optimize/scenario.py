"""The scheduling scenario: the engine's input, as fixed by the engine spec.

A :class:`Scenario` is one planning problem: a horizon of ``horizon_steps`` steps of
``step_minutes`` each, a price per step, the site's cabinets (threshold, PV, other load,
battery), its charge points and the charging sessions to plan. It mirrors the JSON of
``docs/engine.md`` one to one:

Its JSON form is read, validated and written by :mod:`engine.optimize.scenario_json`
(``parse_scenario``, ``scenario_to_dict``, ``load_scenario``, ``validate_scenario``); a bad
field raises :class:`ScenarioError` whose message starts with the field's path, e.g.
``sessions[3].departure_step: must be > arrival_step``. The size and range limits are here.

Arrays of a parsed scenario are numpy float arrays of length ``horizon_steps``. Code that
builds a scenario directly (the replay, the app) may pass plain numbers, lists or ``None``
for the per-step arrays: :func:`step_array` broadcasts them the same way the planner does.
``validate_scenario`` checks such a hand-built scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np

from engine.errors import FieldError
from engine.validate import by_id

StepValues = Union[float, Sequence[float], np.ndarray]
"""A per-step quantity: one number for every step, or one value per step (``horizon_steps`` long)."""

__all__ = [
    "ScenarioError",
    "BatterySpec",
    "CabinetSpec",
    "ChargePointSpec",
    "SessionSpec",
    "Scenario",
    "step_array",
    "check_references",
    "StepValues",
]


class ScenarioError(FieldError):
    """An invalid scenario; ``str(err)`` is ``"<field path>: <message>"`` (:class:`engine.errors.FieldError`)."""


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True, eq=False)
class BatterySpec:
    """A stationary battery behind a cabinet.

    Parameters
    ----------
    capacity_kwh : float
        Usable capacity [kWh].
    energy_kwh : float
        Energy stored at the start of the horizon, ``e[0]`` [kWh].
    max_charge_kw : float
        Largest charging power (grid side) [kW].
    max_discharge_kw : float
        Largest discharging power (grid side) [kW].
    min_energy_kwh : float, optional
        Lowest energy the battery may hold [kWh]; default 0.
    efficiency : float, optional
        One-way efficiency in (0, 1]; default 1.
    """

    capacity_kwh: float
    energy_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    min_energy_kwh: float = 0.0
    efficiency: float = 1.0


@dataclass(frozen=True, eq=False)
class CabinetSpec:
    """A power distribution cabinet: one independent scheduling subproblem.

    Parameters
    ----------
    id : str
        Cabinet id, e.g. ``"POD-A"``.
    threshold_kw : float or ndarray
        Grid import limit per step [kW] (a number applies to every step).
    pv_kw : ndarray or None
        PV production per step [kW]; ``None`` means zero.
    other_load_kw : ndarray or None
        Other (non-EV) load per step [kW]; ``None`` means zero.
    battery : BatterySpec or None
        The cabinet's stationary battery, if any.
    """

    id: str
    threshold_kw: StepValues
    pv_kw: StepValues | None = None
    other_load_kw: StepValues | None = None
    battery: BatterySpec | None = None


@dataclass(frozen=True, eq=False)
class ChargePointSpec:
    """A charge point wired to a cabinet.

    Parameters
    ----------
    id : str
        Charge point id, e.g. ``"CA-301"``.
    cabinet : str
        Id of its cabinet.
    rated_kw : float
        Rated charging power [kW].
    """

    id: str
    cabinet: str
    rated_kw: float


@dataclass(frozen=True, eq=False)
class SessionSpec:
    """One charging session (or a quote request).

    Parameters
    ----------
    id : str
        Session id.
    cp : str
        Charge point id.
    arrival_step : int
        First step the car may charge [step index].
    departure_step : int
        First step the car is gone (exclusive end of its window) [step index].
    energy_kwh : float
        Energy requested [kWh].
    max_kw : float or None, optional
        Largest power the car accepts [kW]; ``None``: the charge point's rating.
    guaranteed : bool, optional
        Whether the operator promised the full request (stage 1 of the objective).
    """

    id: str
    cp: str
    arrival_step: int
    departure_step: int
    energy_kwh: float
    max_kw: float | None = None
    guaranteed: bool = False


@dataclass(frozen=True, eq=False)
class Scenario:
    """One planning problem, as in the engine spec's scenario JSON.

    Parameters
    ----------
    step_minutes : float
        Length of one step [min].
    horizon_steps : int
        Number of steps T.
    start : str
        Informational start time (ISO 8601).
    price_per_kwh : ndarray or None
        Energy price per step [currency/kWh]; ``None`` means zero.
    cabinets : tuple of CabinetSpec
    charge_points : tuple of ChargePointSpec
    sessions : tuple of SessionSpec
    request : SessionSpec or None
        The session a quote is asked for (read by ``quote`` only).
    """

    step_minutes: float
    horizon_steps: int
    start: str = ""
    price_per_kwh: StepValues | None = None
    cabinets: Sequence[CabinetSpec] = ()
    charge_points: Sequence[ChargePointSpec] = ()
    sessions: Sequence[SessionSpec] = ()
    request: SessionSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dt_hours(self) -> float:
        """Step length [h]."""
        return float(self.step_minutes) / 60.0

    def cabinet(self, cabinet_id: str) -> CabinetSpec:
        """The cabinet with this id (``KeyError`` if unknown)."""
        return by_id(self.cabinets, cabinet_id)

    def charge_point(self, cp_id: str) -> ChargePointSpec:
        """The charge point with this id (``KeyError`` if unknown)."""
        return by_id(self.charge_points, cp_id)

    def cabinet_of(self, cp_id: str) -> str:
        """Id of the cabinet a charge point is wired to."""
        return self.charge_point(cp_id).cabinet

    def prices(self) -> np.ndarray:
        """Price per step [currency/kWh], length ``horizon_steps``."""
        return step_array(self.price_per_kwh, self.horizon_steps)


def step_array(value: StepValues | None, horizon_steps: int, default: float = 0.0) -> np.ndarray:
    """Broadcast a per-step quantity to a float array of length ``horizon_steps``.

    Parameters
    ----------
    value : float, sequence, ndarray or None
        A number (same at every step), a sequence of ``horizon_steps`` numbers, or
        ``None`` (``default`` at every step).
    horizon_steps : int
        Number of steps T.
    default : float
        Value used for ``None``.

    Returns
    -------
    ndarray
        Float array of shape ``(horizon_steps,)``.
    """
    if value is None:
        return np.full(horizon_steps, float(default))
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(horizon_steps, float(arr))
    if arr.shape != (horizon_steps,):
        raise ValueError(f"expected {horizon_steps} values, got shape {arr.shape}")
    return arr


def check_references(
    cabinets: Sequence[CabinetSpec], charge_points: Sequence[ChargePointSpec], sessions: Sequence[SessionSpec]
) -> dict[str, str]:
    """Check the ids of a scenario's parts and what they refer to.

    Returns
    -------
    dict
        Each charge point's cabinet id, by charge point id.

    Raises
    ------
    ScenarioError
        A duplicate cabinet, charge point or session id, a charge point on an unknown
        cabinet, or a session on an unknown charge point (the field named by its index).
    """
    cab_ids: set[str] = set()
    for i, c in enumerate(cabinets):
        if c.id in cab_ids:
            raise ScenarioError(f"cabinets[{i}].id", f"duplicate id {c.id!r}")
        cab_ids.add(c.id)
    cp_cab: dict[str, str] = {}
    for i, cp in enumerate(charge_points):
        if cp.id in cp_cab:
            raise ScenarioError(f"charge_points[{i}].id", f"duplicate id {cp.id!r}")
        if cp.cabinet not in cab_ids:
            raise ScenarioError(f"charge_points[{i}].cabinet", f"unknown cabinet {cp.cabinet!r}")
        cp_cab[cp.id] = cp.cabinet
    seen: set[str] = set()
    for i, s in enumerate(sessions):
        if s.id in seen:
            raise ScenarioError(f"sessions[{i}].id", f"duplicate id {s.id!r}")
        if s.cp not in cp_cab:
            raise ScenarioError(f"sessions[{i}].cp", f"unknown charge point {s.cp!r}")
        seen.add(s.id)
    return cp_cab


# --------------------------------------------------------------------------- limits

MAX_FILE_BYTES = 32 * 1024 * 1024
"""Largest scenario file read [bytes]; a bigger one is refused before it is parsed."""
MAX_STEP_MINUTES = 1440.0
"""Longest step [min]: one day."""
MAX_HORIZON_STEPS = 100_000
"""Most steps in a horizon (a year of 5-minute steps is 105,120: plan it in parts)."""
MAX_CABINETS = 1_000
"""Most cabinets in a scenario."""
MAX_CHARGE_POINTS = 10_000
"""Most charge points in a scenario."""
MAX_SESSIONS = 20_000
"""Most sessions in a scenario."""
MAX_CABINET_STEPS = 2_000_000
"""Most cabinets x horizon_steps (each cabinet holds a few arrays of horizon_steps floats)."""
MAX_SESSION_STEPS = 2_000_000
"""Most steps of all sessions' windows inside the horizon together (one LP column each)."""
MAX_STEP_INDEX = 10**9
"""Largest ``|arrival_step|`` / ``|departure_step|`` (windows may stick out of the horizon)."""
MAX_POWER_KW = 1e6
"""Largest power of a threshold, rating, PV or load value, battery rating [kW] (1 GW)."""
MAX_ENERGY_KWH = 1e7
"""Largest energy of a session or a battery [kWh] (10 GWh)."""
MAX_PRICE = 1e6
"""Largest price [currency/kWh]."""
MIN_EFFICIENCY = 0.01
"""Lowest one-way battery efficiency (the LP divides by it)."""
