"""A headless day over any charger port, without the runtime: for tests and the benchmark.

:func:`synthetic_cars` makes a reproducible day of arrivals for a site; :func:`run_day` steps
a clock through the day, plugs the cars in as they arrive (the port's ``plug``), reads, and
applies a simple fair-share plan (each cabinet's threshold split equally among its plugged
charge points, capped by their ratings, held for an hour ahead). The runtime's control loop
(:mod:`engine.runtime`) replaces this planner; the point here is the OCPP path's fidelity and speed:
:func:`reference_day` runs the same day with the same plan on bare :class:`Car` physics, so a
test can compare energies car by car.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from engine.runtime.cars import Car
from engine.chargers import ChargerReading, Setpoint
from engine.site.model import Site

__all__ = ["Arrival", "DayResult", "synthetic_cars", "fair_share", "run_day", "reference_day"]


@dataclass(frozen=True)
class Arrival:
    """A car arriving at a charge point."""

    cp: str
    at: datetime
    car: Car


@dataclass
class DayResult:
    """What a day produced: energy per session [kWh], the worst cabinet load [kW], events."""

    energy_kwh: dict[str, float] = field(default_factory=dict)
    peak_over_kw: float = 0.0  # the largest excess of a cabinet's read power over its threshold
    events: list[Any] = field(default_factory=list)
    steps: int = 0


def synthetic_cars(site: Site, day: datetime, *, seed: int = 1, sessions_per_cp: int = 2) -> list[Arrival]:
    """Up to ``sessions_per_cp`` back-to-back cars per charge point between 6:00 and 22:00."""
    rng = random.Random(seed)
    out = []
    base = day.replace(hour=0, minute=0, second=0, microsecond=0)
    for a in site.charge_points:
        t = base + timedelta(hours=6 + rng.random() * 4)
        for k in range(sessions_per_cp):
            stay = timedelta(minutes=rng.randrange(60, 8 * 60, 5))
            if t + stay > base + timedelta(hours=22):
                break
            car = Car(
                id=f"{a.id}-s{k}",
                battery_kwh=rng.choice([40.0, 60.0, 75.0]),
                soc_pct=rng.uniform(10, 70),
                max_kw=rng.choice([3.3, 6.6, 7.2, 11.0]),
                departs_at=t + stay,
                reports_soc=rng.random() < 0.3,
            )
            out.append(Arrival(a.id, t, car))
            t = t + stay + timedelta(minutes=rng.randrange(15, 120, 5))
    return sorted(out, key=lambda x: (x.at, x.cp))


def fair_share(site: Site, plugged: set[str], now: datetime, step_min: float, periods: int = 12) -> list[Setpoint]:
    """Each cabinet's threshold split equally among its plugged charge points [kW]."""
    out = []
    for g in site.groups():
        cps = [a for a in g.charge_points if a.id in plugged]
        share = g.cabinet.threshold_kw / len(cps) if cps else 0.0
        for a in g.charge_points:
            kw = min(a.rated_kw, share) if a.id in plugged else 0.0
            out.append(Setpoint(a.id, kw, now, step_min, tuple([kw] * periods)))
    return out


def run_day(
    port: Any,
    site: Site,
    arrivals: list[Arrival],
    *,
    start: datetime,
    clock: list[datetime],
    step_min: float = 5.0,
    hours: float = 24.0,
    on_step: Callable[[datetime, dict[str, ChargerReading]], None] | None = None,
) -> DayResult:
    """Drive ``port`` (with ``plug``) through a day; ``clock[0]`` is the port's clock, moved here."""
    res = DayResult()
    pending = sorted(arrivals, key=lambda x: x.at)
    step = timedelta(minutes=step_min)
    t = start
    end = start + timedelta(hours=hours)
    plugged: set[str] = set()
    groups = site.groups()
    clock[0] = t
    while t < end:
        clock[0] = t
        readings = port.read(t)
        while pending and pending[0].at <= t:
            arr = pending.pop(0)
            port.plug(arr.cp, arr.car, arr.at)
        for ev in port.events():
            res.events.append(ev)
            if ev.kind == "plugged":
                plugged.add(ev.cp)
            elif ev.kind == "unplugged":
                plugged.discard(ev.cp)
                res.energy_kwh[ev.transaction] = float(ev.detail.get("energy_kwh", 0.0))
        for r in readings.values():
            if r.transaction is not None:
                res.energy_kwh[r.transaction] = r.energy_kwh
        for g in groups:
            load = sum(readings[a.id].power_kw for a in g.charge_points)
            res.peak_over_kw = max(res.peak_over_kw, load - g.cabinet.threshold_kw)
        if on_step is not None:
            on_step(t, readings)
        port.apply(fair_share(site, plugged, t, step_min))
        res.steps += 1
        t += step
    clock[0] = t
    for r in port.read(t).values():
        if r.transaction is not None:
            res.energy_kwh[r.transaction] = r.energy_kwh
    return res


def reference_day(
    site: Site,
    arrivals: list[Arrival],
    *,
    start: datetime,
    step_min: float = 5.0,
    hours: float = 24.0,
    limit_of: Callable[[str, float], float] | None = None,
) -> dict[str, float]:
    """The same day on bare car physics: energy per session [kWh].

    ``limit_of(cp, kw)`` maps a planned limit to what the charge point really allows (e.g.
    rounded down to 0.1 A); default: the plan itself.
    """
    rated = {a.id: a.rated_kw for a in site.charge_points}
    pending = sorted(arrivals, key=lambda x: x.at)
    step = timedelta(minutes=step_min)
    t = start
    end = start + timedelta(hours=hours)
    cars: dict[str, Car] = {}
    energy: dict[str, float] = {}
    limits: dict[str, float] = {}
    while t < end:
        # cars leave
        for cp in list(cars):
            if cars[cp].departs_at is not None and cars[cp].departs_at <= t:
                del cars[cp]
        while pending and pending[0].at <= t:
            arr = pending.pop(0)
            cars[arr.cp] = copy.deepcopy(arr.car)
            energy[arr.car.id] = 0.0
            limits[arr.cp] = limits.get(arr.cp, 0.0)
        # the plan made at t from who is plugged at t
        for sp in fair_share(site, set(cars), t, step_min):
            limits[sp.cp] = sp.power_kw if limit_of is None else limit_of(sp.cp, sp.power_kw)
        for cp, car in cars.items():
            t_end = t + step
            if car.departs_at is not None and car.departs_at < t_end:
                t_end = car.departs_at
            hours_ = (t_end - t).total_seconds() / 3600.0
            energy[car.id] += car.charge(min(limits.get(cp, 0.0), rated[cp]), hours_)
        t += step
    return energy
