"""Charging profiles: the runtime's :class:`~engine.chargers.Setpoint` as an OCPP 1.6 TxProfile, and back.

Pure functions (no sockets), shared by the central system (which builds profiles) and the
charge point simulator (which follows them).

A setpoint is a step function of time: ``schedule_kw[k]`` from ``start + k * step``, then 0
after the last period (an empty schedule holds ``power_kw`` for ever). The OCPP profile is an
*absolute* TxProfile whose ``startSchedule`` is the setpoint's start, one
``chargingSchedulePeriod`` per run of equal limits, and - when the setpoint has a schedule -
a final period of limit 0 with no ``duration``, so the charge point stops when the plan ends
instead of falling back to "no limit" (OCPP 1.6 section 3.13.2: after a schedule ends, the
next profile down the stack applies, and with none the charge point is unlimited).

Limits are rounded *down* to 0.1 of the unit (the 1.6 schema's ``multipleOf: 0.1``), so the
charge point is never allowed more than the plan. In amperes, ``A = W / (V * phases)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from engine.errors import FieldError
from engine.chargers import Setpoint
from engine.validate import integer, number

__all__ = [
    "UNITS",
    "ProfileError",
    "Segment",
    "segments_of",
    "segments_from",
    "to_unit",
    "from_unit",
    "tx_profile",
    "ProfileLimit",
    "iso",
    "parse_time",
]

UNITS = ("W", "A")


class ProfileError(FieldError):
    """A charging profile that cannot be built or followed; names the field."""


@dataclass(frozen=True)
class Segment:
    """From ``start`` on, the charge point may draw ``limit_kw`` (until the next segment) [kW]."""

    start: datetime
    limit_kw: float


def iso(t: datetime) -> str:
    """``t`` as an OCPP date-time: UTC, ``Z``, milliseconds at most."""
    if t.tzinfo is None:
        raise ProfileError("time", f"must be timezone-aware, got {t!r}")
    u = t.astimezone(timezone.utc)
    return u.strftime("%Y-%m-%dT%H:%M:%S") + (f".{u.microsecond // 1000:03d}" if u.microsecond else "") + "Z"


def parse_time(text: str) -> datetime:
    """An OCPP date-time (RFC 3339) as an aware datetime (UTC when no offset is given)."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _floor1(x: float) -> float:
    """Round down to 0.1 (a tiny epsilon keeps 6656.0 from becoming 6655.9)."""
    return math.floor(x * 10.0 + 1e-6) / 10.0


def to_unit(limit_kw: float, unit: str, *, voltage_v: float, phases: int) -> float:
    """A limit in the profile's unit (W or A), rounded down to 0.1."""
    if unit == "W":
        return _floor1(max(0.0, limit_kw) * 1000.0)
    if unit == "A":
        return _floor1(max(0.0, limit_kw) * 1000.0 / (voltage_v * phases))
    raise ProfileError("unit", f"must be W or A, got {unit!r}")


def from_unit(limit: float, unit: str, *, voltage_v: float, phases: int) -> float:
    """A profile limit (W or A) in kW."""
    if unit == "W":
        return float(limit) / 1000.0
    if unit == "A":
        return float(limit) * voltage_v * phases / 1000.0
    raise ProfileError("unit", f"must be W or A, got {unit!r}")


def segments_of(sp: Setpoint) -> tuple[Segment, ...]:
    """The setpoint as runs of equal limits [kW]; a scheduled one ends with a 0 segment."""
    if sp.schedule_kw:
        number(sp.step_minutes, "step_minutes", lo=0, lo_open=True, error=ProfileError)
    if not sp.schedule_kw:
        return (Segment(sp.start, max(0.0, float(sp.power_kw))),)
    out: list[Segment] = []
    step = timedelta(minutes=sp.step_minutes)
    for k, kw in enumerate(list(sp.schedule_kw) + [0.0]):
        kw = max(0.0, float(kw))
        if out and out[-1].limit_kw == kw:
            continue
        out.append(Segment(sp.start + k * step, kw))
    return tuple(out)


def segments_from(segs: Sequence[Segment], t: datetime) -> tuple[Segment, ...]:
    """The same step function restricted to times >= ``t`` (first segment starts at ``t``).

    Two profiles are equivalent from ``t`` on exactly when these are equal, which is how the
    central system avoids re-sending a plan that did not change.
    """
    if not segs:
        return ()
    k = 0
    for i, s in enumerate(segs):
        if s.start <= t:
            k = i
    first = segs[k]
    rest = [s for s in segs[k + 1 :] if s.start > t]
    return (Segment(max(first.start, t), first.limit_kw), *rest)


def tx_profile(
    sp: Setpoint,
    *,
    unit: str,
    profile_id: int,
    transaction_id: int | None,
    voltage_v: float,
    phases: int = 1,
    max_periods: int | None = None,
    stack_level: int = 0,
    lead_in_s: int = 0,
) -> dict[str, Any]:
    """The OCPP 1.6 ``csChargingProfiles`` of a setpoint (camelCase, ready to send).

    Parameters
    ----------
    sp : Setpoint
        The plan for one charge point [kW].
    unit : {"W", "A"}
        The charging rate unit the charge point accepts.
    profile_id : int
        ``chargingProfileId`` (the same id replaces the previous profile).
    transaction_id : int or None
        The OCPP transaction the TxProfile is bound to.
    voltage_v : float
        Supply voltage for conversions to amperes [V].
    phases : int
        Number of phases the charge point uses.
    max_periods : int or None
        The charge point's ``ChargingScheduleMaxPeriods``; a longer plan is cut there and
        ends with limit 0 (the runtime sends a new one every step).
    stack_level : int
    lead_in_s : int
        Start the schedule this many seconds before the setpoint, in its first limit (as
        :meth:`Setpoint.limit_at` reads times before the start). A charge point whose clock is
        a little behind then does not fall back to its default profile for those seconds.

    Raises
    ------
    ProfileError
        Bad unit, voltage, phases or max_periods.
    """
    if unit not in UNITS:
        raise ProfileError("unit", f"must be W or A, got {unit!r}")
    number(voltage_v, "voltage_v", lo=0, lo_open=True, error=ProfileError)
    if integer(phases, "phases", error=ProfileError) not in (1, 2, 3):
        raise ProfileError("phases", f"must be 1, 2 or 3, got {phases!r}")
    integer(lead_in_s, "lead_in_s", lo=0, error=ProfileError)
    if max_periods is not None:
        integer(max_periods, "max_periods", lo=2, error=ProfileError)
    segs = list(segments_of(sp))
    periods: list[dict[str, Any]] = []
    for s in segs:
        limit = to_unit(s.limit_kw, unit, voltage_v=voltage_v, phases=phases)
        if periods and periods[-1]["limit"] == limit:
            continue  # equal after rounding
        offset = int(round((s.start - sp.start).total_seconds())) + (lead_in_s if periods else 0)
        periods.append({"startPeriod": offset, "limit": limit})
    if max_periods is not None and len(periods) > max_periods:
        cut = periods[max_periods - 1]["startPeriod"]
        periods = periods[: max_periods - 1] + [{"startPeriod": cut, "limit": 0.0}]
    if phases != 1 or unit == "A":
        for p in periods:
            p["numberPhases"] = phases
    schedule: dict[str, Any] = {
        "startSchedule": iso(sp.start - timedelta(seconds=lead_in_s)),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    profile: dict[str, Any] = {
        "chargingProfileId": int(profile_id),
        "stackLevel": int(stack_level),
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }
    if transaction_id is not None:
        profile["transactionId"] = int(transaction_id)
    return profile


class ProfileLimit:
    """A received charging profile as a limit function of time (the charge point's side).

    Parameters
    ----------
    profile : dict
        ``csChargingProfiles`` as received (camelCase).
    voltage_v : float
        Supply voltage [V] (amperes to kW).
    phases : int
        Default number of phases when a period gives none.
    tx_start : datetime or None
        Start of the transaction (for a Relative profile).

    Notes
    -----
    Before ``startSchedule`` the first period applies (as :meth:`Setpoint.limit_at` does);
    after ``duration`` there is no limit (``None``).
    """

    def __init__(self, profile: dict[str, Any], *, voltage_v: float, phases: int = 1, tx_start: datetime | None = None):
        sched = profile["chargingSchedule"]
        unit = sched["chargingRateUnit"]
        kind = profile.get("chargingProfileKind", "Absolute")
        if kind == "Relative":
            start = tx_start or datetime.now(timezone.utc)
        elif "startSchedule" in sched:
            start = parse_time(sched["startSchedule"])
        else:
            start = tx_start or datetime.now(timezone.utc)
        self.id = int(profile.get("chargingProfileId", 0))
        self.purpose = profile.get("chargingProfilePurpose", "TxProfile")
        self.start = start
        dur = sched.get("duration")
        self.end = start + timedelta(seconds=float(dur)) if dur is not None else None
        periods = sorted(sched["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
        self.breaks = [start + timedelta(seconds=float(p["startPeriod"])) for p in periods]
        self.kw = [
            from_unit(float(p["limit"]), unit, voltage_v=voltage_v, phases=int(p.get("numberPhases", phases)))
            for p in periods
        ]

    def limit_kw(self, t: datetime) -> float | None:
        """The limit at ``t`` [kW]; None when the profile does not limit (after its duration)."""
        if self.end is not None and t >= self.end:
            return None
        k = 0
        for i, b in enumerate(self.breaks):
            if b <= t:
                k = i
            else:
                break
        return self.kw[k]

    def changes_between(self, t0: datetime, t1: datetime) -> list[datetime]:
        """Times in (t0, t1) at which the limit changes."""
        out = [b for b in self.breaks if t0 < b < t1]
        if self.end is not None and t0 < self.end < t1:
            out.append(self.end)
        return sorted(out)
