"""The simulated charge points behind :class:`engine.chargers.ChargerPort`.

Each charge point of the site holds at most one car (:class:`engine.runtime.cars.Car`). A car
plugged in with :meth:`SimulatedChargers.plug` charges at the charge point's limit (the
:class:`~engine.chargers.Setpoint` in force, period by period) up to what the car accepts
(its on-board charger, tapering above about 80 % SOC) and the charge point's rating; it leaves
at its own ``departs_at`` (earlier or later than its driver said). :meth:`fault` faults a charge
point for a while; ``fault_rate`` adds random faults. A car plugged with ``ignore_limit=True``
draws what it accepts whatever its limit (a charger that does not follow its profile).

The state (cars, meters, limits) can be saved to and restored from a JSON-able dict, so a
restarted process finds the cars where the previous one left them (as real cars stay plugged
while a controller restarts).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence

from engine.ledger import Status
from engine.runtime.cars import Car
from engine.chargers import ChargerError, ChargerEvent, ChargerReading, EventKind, Setpoint
from engine.site.model import Site

__all__ = ["SimulatedChargers"]

_ACTIVE_KW = 0.05  # below this a car is not charging [kW]


@dataclass
class _Point:
    cp: str
    rated_kw: float
    meter_kwh: float = 0.0
    car: Car | None = None
    plugged_at: datetime | None = None
    energy_kwh: float = 0.0
    ignore_limit: bool = False
    setpoint: Setpoint | None = None
    fault_until: datetime | None = None
    power_kw: float = 0.0
    last: datetime | None = None
    events: list[ChargerEvent] = field(default_factory=list)

    def limit(self, t: datetime) -> float:
        if self.setpoint is None:
            return 0.0
        return min(self.rated_kw, max(0.0, self.setpoint.limit_at(t)))

    def draw_kw(self, t: datetime) -> float:
        """Power the car draws at ``t`` [kW]."""
        if self.car is None or self.faulted(t):
            return 0.0
        cap = self.car.accept_kw()
        lim = self.rated_kw if self.ignore_limit else self.limit(t)
        return min(cap, lim, self.rated_kw)

    def faulted(self, t: datetime) -> bool:
        return self.fault_until is not None and t < self.fault_until


class SimulatedChargers:
    """Simulated charge points of a site (the ``sim`` charger port).

    Parameters
    ----------
    site : Site
        Its charge points are simulated (rating from ``rated_kw``).
    fault_rate : float
        Random faults per charge point per hour of charging [1/h] (0: none).
    fault_minutes : float
        How long a random fault lasts [min].
    seed : int
        Seed of the random faults.
    state : dict, optional
        A state saved by :meth:`state` (resume after a restart).
    """

    def __init__(
        self,
        site: Site,
        *,
        fault_rate: float = 0.0,
        fault_minutes: float = 20.0,
        seed: int = 0,
        state: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        self._points = {a.id: _Point(a.id, float(a.rated_kw)) for a in site.charge_points}
        self.fault_rate = float(fault_rate)
        self.fault_minutes = float(fault_minutes)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._events: list[ChargerEvent] = []
        if state:
            self._restore(state)

    # -- the car side (what happens in the car park) ------------------------------------------
    def _point(self, cp: str) -> _Point:
        try:
            return self._points[cp]
        except KeyError:
            raise ChargerError("cp", f"unknown charge point {cp!r}") from None

    def plug(self, cp: str, car: Car, at: datetime, *, ignore_limit: bool = False) -> None:
        """A car connects to ``cp`` at ``at`` and a transaction ``car.id`` starts."""
        with self._lock:
            p = self._point(cp)
            self._advance(p, at)
            if p.car is not None:
                raise ChargerError("cp", f"{cp} already has a car ({p.car.id})")
            p.car, p.plugged_at, p.energy_kwh, p.ignore_limit = car, at, 0.0, ignore_limit
            p.setpoint = None
            self._events.append(ChargerEvent(EventKind.PLUGGED, cp, at, car.id,
                                             {"soc_pct": car.soc_pct if car.reports_soc else None}))

    def unplug(self, cp: str, at: datetime, reason: str = "left") -> None:
        """The car at ``cp`` leaves at ``at`` (its transaction ends)."""
        with self._lock:
            p = self._point(cp)
            self._advance(p, at)
            self._end(p, at, reason)

    def fault(self, cp: str, at: datetime, minutes: float = 30.0) -> None:
        """``cp`` faults at ``at`` for ``minutes`` (no power meanwhile)."""
        with self._lock:
            p = self._point(cp)
            self._advance(p, at)
            p.fault_until = at + timedelta(minutes=minutes)
            self._events.append(ChargerEvent(EventKind.FAULT, cp, at, p.car.id if p.car else None,
                                             {"until": p.fault_until.isoformat()}))

    def car(self, cp: str) -> Car | None:
        """The car at ``cp`` (None if free)."""
        with self._lock:
            return self._point(cp).car

    # -- the port ------------------------------------------------------------------------------
    def read(self, now: datetime) -> dict[str, ChargerReading]:
        with self._lock:
            out = {}
            for p in self._points.values():
                self._advance(p, now)
                out[p.cp] = self._reading(p, now)
            return out

    def events(self) -> list[ChargerEvent]:
        with self._lock:
            ev, self._events = sorted(self._events, key=lambda e: e.at), []
            return ev

    def apply(self, setpoints: Sequence[Setpoint]) -> None:
        with self._lock:
            for sp in setpoints:
                p = self._point(sp.cp)
                if sp.start is not None and p.last is not None and sp.start > p.last:
                    self._advance(p, sp.start)
                p.setpoint = sp

    def stop(self, cp: str) -> None:
        with self._lock:
            p = self._point(cp)
            if p.car is None:
                raise ChargerError("cp", f"{cp} has no transaction to stop")
            at = p.last or p.plugged_at
            self._end(p, at, "stopped")

    def close(self) -> None:
        """Nothing to release."""

    # -- physics ---------------------------------------------------------------------------------
    def _end(self, p: _Point, at: datetime, reason: str) -> None:
        if p.car is None:
            return
        self._events.append(ChargerEvent(EventKind.UNPLUGGED, p.cp, at, p.car.id,
                                         {"reason": reason, "energy_kwh": p.energy_kwh}))
        p.car, p.plugged_at, p.energy_kwh, p.ignore_limit, p.setpoint = None, None, 0.0, False, None
        p.power_kw = 0.0

    def _breaks(self, p: _Point, t0: datetime, t1: datetime) -> list[datetime]:
        """Times in (t0, t1) where the draw can jump: setpoint periods, fault end, departure."""
        pts = []
        sp = p.setpoint
        if sp is not None and sp.schedule_kw:
            step = timedelta(minutes=sp.step_minutes)
            k0 = max(0, int((t0 - sp.start) / step) + 1)
            for k in range(k0, len(sp.schedule_kw) + 1):
                t = sp.start + k * step
                if t >= t1:
                    break
                if t > t0:
                    pts.append(t)
        if p.fault_until is not None and t0 < p.fault_until < t1:
            pts.append(p.fault_until)
        return sorted(pts)

    def _advance(self, p: _Point, now: datetime) -> None:
        if p.last is None:
            p.last = now
            return
        t = p.last
        if now <= t:
            p.power_kw = p.draw_kw(max(now, t))
            return
        while t < now:
            car = p.car
            end = now
            if car is not None and car.departs_at is not None and t <= car.departs_at < end:
                end = car.departs_at
            cuts = self._breaks(p, t, end)
            seg_end = cuts[0] if cuts else end
            if car is not None and not p.faulted(t):
                if self.fault_rate > 0 and p.draw_kw(t) > _ACTIVE_KW:
                    hours = (seg_end - t).total_seconds() / 3600
                    if self._rng.random() < self.fault_rate * hours:
                        self._charge(p, t, t + (seg_end - t) / 2)
                        t = t + (seg_end - t) / 2
                        p.fault_until = t + timedelta(minutes=self.fault_minutes)
                        self._events.append(ChargerEvent(EventKind.FAULT, p.cp, t, car.id,
                                                         {"until": p.fault_until.isoformat(), "random": True}))
                        continue
                self._charge(p, t, seg_end)
            if p.fault_until is not None and seg_end >= p.fault_until and t < p.fault_until:
                self._events.append(ChargerEvent(EventKind.RECOVERED, p.cp, p.fault_until, car.id if car else None))
            t = seg_end
            if car is not None and car.departs_at is not None and t >= car.departs_at:
                self._end(p, t, "left")
        p.last = now
        p.power_kw = p.draw_kw(now)

    def _charge(self, p: _Point, t0: datetime, t1: datetime) -> None:
        hours = (t1 - t0).total_seconds() / 3600
        if hours <= 0 or p.car is None:
            return
        lim = p.rated_kw if p.ignore_limit else p.limit(t0)
        e = p.car.charge(min(lim, p.rated_kw), hours)
        p.energy_kwh += e
        p.meter_kwh += e

    def _reading(self, p: _Point, now: datetime) -> ChargerReading:
        car = p.car
        if p.faulted(now):
            status = Status.FAULTED
        elif car is None:
            status = Status.AVAILABLE
        elif p.power_kw > _ACTIVE_KW:
            status = Status.CHARGING
        elif car.full or (p.limit(now) > _ACTIVE_KW and car.accept_kw() <= _ACTIVE_KW):
            status = Status.SUSPENDED_EV
        elif p.energy_kwh <= 1e-9 and p.setpoint is None:
            status = Status.PREPARING
        else:
            status = Status.SUSPENDED_EVSE
        return ChargerReading(
            cp=p.cp, status=status, power_kw=round(p.power_kw, 4), energy_kwh=p.energy_kwh,
            meter_kwh=p.meter_kwh, soc_pct=(car.soc_pct if car is not None and car.reports_soc else None),
            transaction=car.id if car is not None else None, at=now,
        )

    # -- persistence ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot (cars, meters, limits, faults)."""
        with self._lock:
            pts = {}
            for p in self._points.values():
                d: dict[str, Any] = {"meter_kwh": p.meter_kwh, "last": p.last.isoformat() if p.last else None}
                if p.car is not None:
                    c = asdict(p.car)
                    c["departs_at"] = p.car.departs_at.isoformat() if p.car.departs_at else None
                    d.update(car=c, plugged_at=p.plugged_at.isoformat(), energy_kwh=p.energy_kwh,
                             ignore_limit=p.ignore_limit)
                if p.fault_until is not None:
                    d["fault_until"] = p.fault_until.isoformat()
                if p.setpoint is not None:
                    sp = p.setpoint
                    d["setpoint"] = {"power_kw": sp.power_kw, "start": sp.start.isoformat(),
                                     "step_minutes": sp.step_minutes, "schedule_kw": list(sp.schedule_kw)}
                pts[p.cp] = d
            return {"points": pts}

    def _restore(self, state: dict[str, Any]) -> None:
        def ts(x: str | None) -> datetime | None:
            return datetime.fromisoformat(x) if x else None

        for cp, d in (state.get("points") or {}).items():
            p = self._points.get(cp)
            if p is None:
                continue
            p.meter_kwh = float(d.get("meter_kwh", 0.0))
            p.last = ts(d.get("last"))
            if d.get("car"):
                c = dict(d["car"])
                c["departs_at"] = ts(c.get("departs_at"))
                p.car = Car(**c)
                p.plugged_at = ts(d.get("plugged_at"))
                p.energy_kwh = float(d.get("energy_kwh", 0.0))
                p.ignore_limit = bool(d.get("ignore_limit", False))
            p.fault_until = ts(d.get("fault_until"))
            if d.get("setpoint"):
                s = d["setpoint"]
                p.setpoint = Setpoint(cp, float(s["power_kw"]), datetime.fromisoformat(s["start"]),
                                      float(s["step_minutes"]), tuple(float(x) for x in s["schedule_kw"]))
