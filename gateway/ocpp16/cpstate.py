"""What the central system knows of each charge point, and what a MeterValues message says.

:class:`CpState` outlives a charge point's connections (a charge point that reconnects resumes
its transaction); :func:`sampled` reads the latest figure of each measurand from a
``meter_value`` list. Used by :mod:`gateway.ocpp16.csms` and its two halves,
:mod:`gateway.ocpp16.csms_events` and :mod:`gateway.ocpp16.csms_commands`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp.v16 import ChargePoint as OcppConnection

from engine.ledger import Status
from engine.chargers import Setpoint

from .profiles import Segment, parse_time

__all__ = ["CpState", "STATUS_OF", "REASON_OF", "sampled"]

#: StopTransaction reasons in the runtime's words (``ChargerEvent.detail["reason"]``)
REASON_OF = {"EVDisconnected": "left", "Remote": "stopped", "Local": "stopped"}

STATUS_OF = {
    "Available": Status.AVAILABLE,
    "Preparing": Status.PREPARING,
    "Charging": Status.CHARGING,
    "SuspendedEVSE": Status.SUSPENDED_EVSE,
    "SuspendedEV": Status.SUSPENDED_EV,
    "Finishing": Status.FINISHING,
    "Reserved": Status.RESERVED,
    "Unavailable": Status.UNAVAILABLE,
    "Faulted": Status.FAULTED,
}


@dataclass
class CpState:
    """What the central system knows of one charge point (kept across connections).

    Power [kW], energy [kWh], limits [kW], times site-clock datetimes unless named ``_wall``.
    """

    id: str
    unit: str | None = None  # "W" or "A": the per-CP setting, else what the CP declares
    unit_fixed: bool = False  # set by the operator: do not ask the charge point
    max_periods: int | None = None
    connected: bool = False
    connections: int = 0
    booted: bool = False
    vendor: str = ""
    model: str = ""
    last_message_wall: float | None = None  # time.time() of the last frame received
    status: Status = Status.UNAVAILABLE  # the charge point's, from connectors 0 and 1
    status0: Status | None = None  # connector 0 (the charge point as a whole)
    status1: Status | None = None  # connector 1 (the EVSE)
    error_code: str = "NoError"
    power_kw: float = 0.0
    register_kwh: float = 0.0
    soc_pct: float | None = None
    meter_at: datetime | None = None
    tx_id: int | None = None
    session: str | None = None
    meter_start_kwh: float = 0.0
    tx_started_at: datetime | None = None
    setpoint: Setpoint | None = None  # last plan from the runtime
    sent: tuple[Segment, ...] = ()  # the profile the CP accepted (step function, kW)
    sent_at: datetime | None = None
    profile_rejected: int = 0
    noncompliant: bool = False
    conn: OcppConnection | None = None  # its connection (a csms.CsmsChargePoint)
    config_task: asyncio.Task | None = None  # reading its configuration after boot

    @property
    def energy_kwh(self) -> float:
        return max(0.0, self.register_kwh - self.meter_start_kwh) if self.tx_id is not None else 0.0

    def limit_kw(self, t: datetime) -> float | None:
        """The limit of the accepted profile at ``t`` [kW] (None: no profile in force)."""
        if not self.sent:
            return None
        lim = self.sent[0].limit_kw
        for s in self.sent:
            if s.start <= t:
                lim = s.limit_kw
            else:
                break
        return lim



def sampled(meter_value: list[dict[str, Any]]) -> tuple[datetime | None, dict[str, float]]:
    """The latest sample of each measurand, in kWh, kW and %.

    A total (no ``phase``) is taken as is; without one, the line phases (L1, L2, L3, or
    L1-N ...) are added up. Only the ``Outlet`` location (the default) counts for energy and
    power; the SoC comes from the EV.
    """
    latest: datetime | None = None
    out: dict[str, float] = {}
    for mv in sorted(meter_value, key=lambda m: m["timestamp"]):
        t = parse_time(mv["timestamp"])
        latest = t if latest is None or t > latest else latest
        totals: dict[str, float] = {}
        phases: dict[str, float] = {}
        for sv in mv.get("sampled_value", []):
            measurand = sv.get("measurand", "Energy.Active.Import.Register")
            try:
                v = float(sv["value"])
            except (KeyError, ValueError):
                continue
            if measurand == "SoC":
                out["soc_pct"] = v
                continue
            if sv.get("location", "Outlet") != "Outlet":
                continue
            unit = sv.get("unit")
            if measurand == "Energy.Active.Import.Register":
                key, x = "energy_kwh", (v if unit == "kWh" else v / 1000.0)
            elif measurand == "Power.Active.Import":
                key, x = "power_kw", (v if unit == "kW" else v / 1000.0)
            else:
                continue
            phase = sv.get("phase")
            if phase is None:
                totals[key] = x
            elif phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
                phases[key] = phases.get(key, 0.0) + x
        out.update(phases)
        out.update(totals)
    return latest, out
