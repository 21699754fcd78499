"""Who is still to come today: a forecast of arrivals from the site's own history.

A :class:`Forecast` lists *expected arrivals* on a scenario's step grid (step 0 = the
scenario's start, "now"): arrival step, departure step, energy and a weight (the expected
number of such drivers, ``1 / days`` for a session seen on one of ``days`` past days).
:func:`forecast_from_history` builds it from a list of past sessions (:class:`PastSession`:
arrival, departure, energy) the way a site would: the last ``days`` days of the same kind
(weekday or weekend) before today that had any session, each session of those days that
arrives later in the day than now moved onto today at the same clock time.

Only sessions that have *left* before ``now`` are used (their departure and energy are known
then); a session still plugged in, or one in the future, is ignored whatever the list holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

__all__ = ["PastSession", "ExpectedArrival", "Forecast", "forecast_from_history", "DEFAULT_DAYS"]

DEFAULT_DAYS = 10
"""Past days of the same kind a forecast averages over (two working weeks; ``docs/promises.md``)."""


@dataclass(frozen=True)
class PastSession:
    """One finished session of the site's history.

    Parameters
    ----------
    arrival, departure : datetime
        When the car plugged in and left (timezone-aware).
    energy_kwh : float
        Its need [kWh] (what its driver asked, or what it took).
    stated_departure : datetime, optional
        The departure its driver stated at the kiosk (None: not known), for
        :class:`engine.promises.stay.StayModel`.
    """

    arrival: datetime
    departure: datetime
    energy_kwh: float
    stated_departure: datetime | None = None


@dataclass(frozen=True)
class ExpectedArrival:
    """A driver expected later on the scenario's step grid.

    Parameters
    ----------
    arrival_step : int
        First step present [step index], >= 0.
    departure_step : int
        First step gone [step index], > ``arrival_step`` (may lie beyond the scenario's horizon).
    energy_kwh : float
        Its need [kWh].
    weight : float
        Expected number of such drivers, in (0, 1].
    max_kw : float or None
        Its largest power [kW]; None: the cabinet's typical charge point rating.
    """

    arrival_step: int
    departure_step: int
    energy_kwh: float
    weight: float
    max_kw: float | None = None


@dataclass(frozen=True)
class Forecast:
    """Expected arrivals after now, on a scenario's step grid.

    Parameters
    ----------
    arrivals : tuple of ExpectedArrival
    days_used : int
        Past days the forecast averages over (0: no history).
    """

    arrivals: tuple[ExpectedArrival, ...] = ()
    days_used: int = 0
    dates: tuple[date, ...] = field(default=())

    @property
    def expected_drivers(self) -> float:
        """Expected number of drivers still to come."""
        return float(sum(a.weight for a in self.arrivals))


def _kind(d: date) -> bool:
    """True on a weekday (Monday-Friday)."""
    return d.weekday() < 5


def forecast_from_history(
    history: Iterable[PastSession],
    now: datetime,
    start: datetime,
    step_minutes: float,
    horizon_steps: int,
    *,
    days: int = DEFAULT_DAYS,
    tz: ZoneInfo | None = None,
    max_kw: float | None = None,
) -> Forecast:
    """The expected arrivals of the rest of ``now``'s day from past days of the same kind.

    Parameters
    ----------
    history : iterable of PastSession
        The site's past sessions (any order; only those that left before ``now`` are used).
    now : datetime
        The decision time (timezone-aware).
    start : datetime
        Time of the scenario's step 0 (usually ``now`` floored to the step).
    step_minutes : float
        Step length [min].
    horizon_steps : int
        Expected arrivals at or after this step are left out [steps].
    days : int
        Past days of the same kind (weekday / weekend) to average over; days without any
        session (holidays, data gaps) are skipped.
    tz : ZoneInfo, optional
        The site's time zone (clock times are compared there); default ``now``'s.
    max_kw : float, optional
        Power limit given to every expected arrival [kW] (default: None, the cabinet's).

    Returns
    -------
    Forecast
        Each session of the chosen days arriving after ``now``'s clock time, moved to today,
        with weight ``1 / days found``; arrival rounded down to a step (not before step 0)
        and departure rounded down, as the replay's loader does.
    """
    if now.tzinfo is None or start.tzinfo is None:
        raise ValueError("now and start must be timezone-aware")
    tzinfo = tz or now.tzinfo
    local_now = now.astimezone(tzinfo)
    today = local_now.date()
    kind = _kind(today)
    by_day: dict[date, list[PastSession]] = {}
    for s in history:
        if s.departure > now or not (s.energy_kwh >= 0 and math.isfinite(s.energy_kwh)):
            continue
        d = s.arrival.astimezone(tzinfo).date()
        if d >= today or _kind(d) != kind:
            continue
        by_day.setdefault(d, []).append(s)
    chosen = sorted(by_day)[-days:] if days > 0 else []
    if not chosen:
        return Forecast()
    w = 1.0 / len(chosen)
    step = timedelta(minutes=float(step_minutes))
    step_s = step.total_seconds()
    midnight = datetime(today.year, today.month, today.day, tzinfo=tzinfo)
    out: list[ExpectedArrival] = []
    for d in chosen:
        for s in by_day[d]:
            la = s.arrival.astimezone(tzinfo)
            tod = timedelta(hours=la.hour, minutes=la.minute, seconds=la.second)
            arr = midnight + tod
            if arr <= local_now:
                continue
            dep = arr + (s.departure - s.arrival)
            a = max(0, int(math.floor((arr - start).total_seconds() / step_s + 1e-9)))
            b = int(math.floor((dep - start).total_seconds() / step_s + 1e-9))
            if a >= horizon_steps or b <= a or s.energy_kwh <= 0:
                continue
            out.append(ExpectedArrival(a, b, float(s.energy_kwh), w, max_kw))
    out.sort(key=lambda e: (e.arrival_step, e.departure_step, e.energy_kwh))
    return Forecast(arrivals=tuple(out), days_used=len(chosen), dates=tuple(chosen))
