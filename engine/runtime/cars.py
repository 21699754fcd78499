"""Car physics shared by every charge point simulator (the runtime's and the OCPP one).

An AC-charged car draws the charge point's limit up to its own on-board charger's maximum,
and tapers linearly above ``taper_soc_pct`` (about 80 %) to ``floor_frac`` of that maximum
just before full; at 100 % it stops (OCPP ``SuspendedEV``). Integration is exact per call for
the linear taper (closed form), so results do not depend on how often the simulator is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Car"]


def _constant(e: float, hours: float, power_kw: float, e_stop: float) -> tuple[float, float]:
    """Charge at ``power_kw`` from ``e`` until ``e_stop`` or for ``hours``; (energy, hours left)."""
    need = (e_stop - e) / power_kw
    if need >= hours:
        return e + power_kw * hours, 0.0
    return e_stop, hours - need


@dataclass
class Car:
    """One simulated car.

    Parameters
    ----------
    id : str
        Session (transaction) id.
    battery_kwh : float
        Usable capacity [kWh].
    soc_pct : float
        State of charge now [%].
    max_kw : float
        On-board charger's maximum [kW].
    departs_at : datetime or None
        When the car really leaves (the simulator unplugs it then); None: stays.
    taper_soc_pct : float
        State of charge above which power tapers [%].
    floor_frac : float
        Fraction of ``max_kw`` accepted at 100 % SOC (the taper's end) [-].
    reports_soc : bool
        Whether the car tells its SOC to the charge point (ISO 15118 / DC); AC cars mostly do not.
    """

    id: str
    battery_kwh: float
    soc_pct: float
    max_kw: float
    departs_at: datetime | None = None
    taper_soc_pct: float = 80.0
    floor_frac: float = 0.1
    reports_soc: bool = False

    def accept_kw(self, soc_pct: float | None = None) -> float:
        """Most power the car takes at ``soc_pct`` (default: now) [kW]."""
        s = self.soc_pct if soc_pct is None else soc_pct
        if s >= 100.0 - 1e-9:
            return 0.0
        if s <= self.taper_soc_pct:
            return self.max_kw
        frac = 1.0 - (1.0 - self.floor_frac) * (s - self.taper_soc_pct) / (100.0 - self.taper_soc_pct)
        return self.max_kw * frac

    @property
    def full(self) -> bool:
        return self.soc_pct >= 100.0 - 1e-9

    def charge(self, limit_kw: float, hours: float) -> float:
        """Charge at most ``limit_kw`` for ``hours``; returns the energy taken [kWh]."""
        if hours <= 0 or limit_kw <= 0 or self.full:
            return 0.0
        cap = self.battery_kwh
        e0 = cap * self.soc_pct / 100.0
        e_taper = cap * self.taper_soc_pct / 100.0
        e_full = cap
        t = hours
        e = e0
        # phase 1: below the taper, constant min(limit, max)
        p1 = min(limit_kw, self.max_kw)
        if e < e_taper:
            e, t = _constant(e, t, p1, e_taper)
        # phase 2: taper; accept(e) = max * (1 - (1 - f) * (e - e_taper) / (e_full - e_taper))
        if t > 0 and e < e_full:
            span = e_full - e_taper
            k = self.max_kw * (1.0 - self.floor_frac) / span  # dP/dE [1/h]
            # while limit binds (limit <= accept(e)): constant limit
            e_lim = e_taper + (self.max_kw - limit_kw) / k if limit_kw < self.max_kw else e_taper
            if e < e_lim:
                e, t = _constant(e, t, limit_kw, e_lim)
            if t > 0:
                # dE/dt = a - k (E - e_taper), a = max_kw: exponential approach to e_taper + a/k
                a = self.max_kw
                target = e_taper + a / k
                e = target - (target - e) * math.exp(-k * t)
            e = min(e, e_full)
        taken = max(0.0, e - e0)
        self.soc_pct = min(100.0, 100.0 * e / cap)
        return taken
