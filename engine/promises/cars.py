"""The cars the promise policy reasons about, and the engine-level helpers it shares.

A :class:`Car` is one driver in the admission model (``engine.promises.admission``): a car
present, a request, a car staying past its stated departure, or an expected arrival of the
forecast (weighted). The helpers turn engine inputs (:class:`engine.optimize.scenario.Scenario`,
:class:`engine.optimize.scenario.SessionSpec`, :class:`engine.promises.forecast.Forecast`) into cars and
promises back into specs, and ask the engine's exact quote.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.optimize.quote import quote_max_kwh
from engine.optimize.scenario import Scenario, SessionSpec, step_array
from engine.promises.forecast import Forecast

__all__ = [
    "EPS_KWH",
    "FORECAST_GRID_MINUTES",
    "Car",
    "expected_cars",
    "fits_at_full_rate",
    "group_present",
    "guaranteed_specs",
    "headroom",
    "need_class",
    "quote_kwh",
    "rate_kw",
]

FORECAST_GRID_MINUTES = 60.0
"""Expected arrivals' windows are rounded inwards to this grid (fewer MILP blocks)."""
EPS_KWH = 1e-6


@dataclass
class Car:
    """One driver of the admission model (fields commented below; energies [kWh], steps from now)."""

    key: str  # charge point
    sid: str
    lo: int
    hi: int
    rate: float  # [kW]
    need: float  # whole remaining need [kWh]
    floor: float  # remaining promise [kWh]
    kind: str  # "present", "request", "expected"
    weight: float = 1.0  # expected arrivals: expected count (energy and power scaled by it)
    score: float = 1.0  # objective weight of serving it in full (besides ``weight``)
    promise_hi: int | None = None  # the promise's own window end, when shorter than the stay [step]
    promise_kw: float | None = None  # the power a promise is checked at, when below the rating [kW]


def headroom(scenario: Scenario, cabinet_id: str, length: int) -> np.ndarray:
    """Import headroom per step [kW] (threshold + PV - other load, >= 0), extended with its last value."""
    cab = scenario.cabinet(cabinet_id)
    T = int(scenario.horizon_steps)
    h = step_array(cab.threshold_kw, T) + step_array(cab.pv_kw, T) - step_array(cab.other_load_kw, T)
    h = np.maximum(h, 0.0)
    if length > T:
        h = np.concatenate([h, np.full(length - T, h[-1] if T else 0.0)])
    return h[:length]


def rate_kw(scenario: Scenario, s: SessionSpec) -> float:
    r = float(scenario.charge_point(s.cp).rated_kw)
    return min(r, float(s.max_kw)) if s.max_kw is not None else r


def group_present(scenario: Scenario, present: Sequence[SessionSpec]) -> list[Car]:
    cars: dict[str, Car] = {}
    for s in present:
        e = max(float(s.energy_kwh), 0.0)
        c = cars.get(s.cp)
        if c is None:
            c = cars[s.cp] = Car(s.cp, s.id, int(s.arrival_step), int(s.departure_step), rate_kw(scenario, s),
                                  0.0, 0.0, "present")
        c.lo = min(c.lo, int(s.arrival_step))
        c.hi = max(c.hi, int(s.departure_step))
        c.need += e
        if s.guaranteed:
            c.floor += e
            c.sid = s.id
            c.promise_hi, c.promise_kw = int(s.departure_step), s.max_kw
    return [c for c in cars.values() if c.need > EPS_KWH]


def guaranteed_specs(cars: list[Car], promised: dict[str, float]) -> list[SessionSpec]:
    return [
        SessionSpec(id=c.sid, cp=c.key, arrival_step=c.lo, departure_step=c.promise_hi or c.hi,
                    energy_kwh=promised[c.key], max_kw=c.promise_kw, guaranteed=True)
        for c in cars
        if promised.get(c.key, 0.0) > EPS_KWH
    ]


def quote_kwh(scenario: Scenario, kept: list[SessionSpec], req: SessionSpec, energy: float) -> float:
    """The engine's exact quote for ``energy`` given the promises ``kept`` [kWh]."""
    sc = dataclasses.replace(scenario, sessions=tuple(kept), request=None)
    r = dataclasses.replace(req, energy_kwh=float(energy), guaranteed=False)
    return float(quote_max_kwh(sc, r))


def need_class(kwh: float) -> float:
    """An expected arrival's energy rounded to its class [kWh]: 1 kWh steps to 10, 2 to 30, then 5."""
    step = 1.0 if kwh < 10 else 2.0 if kwh < 30 else 5.0
    return max(step, round(kwh / step) * step)


def expected_cars(scenario: Scenario, cabinet_id: str, forecast: Forecast | None, horizon: int,
              max_kw: float | None, reserve: float = 1.0) -> list[Car]:
    """The forecast's expected arrivals before ``horizon`` as weighted cars.

    Each weight is the forecast's times ``reserve`` (how many times the average day's drivers
    the admission keeps room for; :data:`engine.promises.policy.RESERVE`).

    Windows are rounded inwards to :data:`FORECAST_GRID_MINUTES` (a window shorter than that
    keeps its own steps) and energies to classes (:func:`need_class`); arrivals alike are
    merged into one car whose weight is the sum of theirs (exact for the MILP's continuous
    variables of expected cars).
    """
    if forecast is None:
        return []
    if max_kw is None:
        max_kw = max((float(cp.rated_kw) for cp in scenario.charge_points if cp.cabinet == cabinet_id), default=0.0)
    grid = max(1, int(round(FORECAST_GRID_MINUTES / float(scenario.step_minutes))))
    merged: dict[tuple, float] = {}
    for e in forecast.arrivals:
        if e.arrival_step >= horizon or e.energy_kwh <= EPS_KWH or e.weight <= 0:
            continue
        lo = int(math.ceil(e.arrival_step / grid) * grid)
        hi = int(math.floor(e.departure_step / grid) * grid)
        if hi <= lo:
            lo, hi = int(e.arrival_step), int(e.departure_step)
        rate = float(e.max_kw if e.max_kw is not None else max_kw)
        key = (lo, hi, need_class(float(e.energy_kwh)), rate)
        merged[key] = merged.get(key, 0.0) + float(e.weight) * float(reserve)
    return [Car(f"~{k}", "", lo, hi, rate, need, 0.0, "expected", w)
            for k, ((lo, hi, need, rate), w) in enumerate(sorted(merged.items()))]


def fits_at_full_rate(scenario: Scenario, cabinet_id: str, cars: list[Car], horizon: int) -> bool:
    """Every car can charge at full rate all the time: nothing competes."""
    rates = sum(c.rate * c.weight for c in cars)
    return rates <= float(headroom(scenario, cabinet_id, max(horizon, 1)).min()) + 1e-9
