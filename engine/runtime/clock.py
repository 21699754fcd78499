"""The runtime's clocks: the site's real (or accelerated) time, and a steppable one.

* :class:`SiteClock` - real time in the site's zone; ``EV_CLOCK_SPEED=N`` runs it N times
  faster than the wall clock, starting at ``EV_NOW`` if set (else at the real now);
  ``EV_NOW`` alone freezes it (speed 0).
* :class:`SteppableClock` - moves only when told (tests, headless days).

Both answer ``now()`` with a timezone-aware datetime in the site's zone.
"""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import datetime, timedelta
from typing import Callable, Protocol

from engine.timezone import ClockError, site_tz

__all__ = ["Clock", "SiteClock", "SteppableClock", "clock_speed", "clock_from_env"]


class Clock(Protocol):
    """Anything with ``now()`` in the site's zone."""

    def now(self) -> datetime: ...


def clock_speed(environ: dict[str, str] | None = None) -> float | None:
    """``EV_CLOCK_SPEED`` as a number (None when unset).

    Raises
    ------
    ClockError
        Naming ``EV_CLOCK_SPEED`` when it is not a number in (0, 10000].
    """
    env = os.environ if environ is None else environ
    text = (env.get("EV_CLOCK_SPEED") or "").strip()
    if not text:
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ClockError("EV_CLOCK_SPEED", f"must be a number, got {text!r}") from None
    if not math.isfinite(speed) or not 0 < speed <= 10_000:
        raise ClockError("EV_CLOCK_SPEED", f"must be in (0, 10000], got {text!r}")
    return speed


def _env_start(timezone: str, environ: dict[str, str]) -> datetime | None:
    fixed = (environ.get("EV_NOW") or "").strip()
    if not fixed:
        return None
    try:
        t = datetime.fromisoformat(fixed)
    except ValueError:
        raise ClockError("EV_NOW", f"not an ISO 8601 time: {fixed!r}") from None
    tz = site_tz(timezone)
    return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)


class SiteClock:
    """Site time = ``start + speed x (wall - wall0)``, in the site's zone.

    Parameters
    ----------
    timezone : str
        IANA zone of the site.
    speed : float
        Site seconds per wall second (1 real time, 0 frozen, 60 one site minute a second).
    start : datetime, optional
        Site time at ``wall0`` (default: the real now).
    wall : callable, optional
        Wall clock in seconds (default ``time.time``; injectable for tests).
    """

    def __init__(
        self,
        timezone: str,
        speed: float = 1.0,
        start: datetime | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.tz = site_tz(timezone)
        self.speed = float(speed)
        self._wall = wall
        self._lock = threading.Lock()
        self._wall0 = wall()
        self._start = (start or datetime.now(self.tz)).astimezone(self.tz)

    def now(self) -> datetime:
        with self._lock:
            dt = (self._wall() - self._wall0) * self.speed
            return (self._start + timedelta(seconds=dt)).replace(microsecond=0)

    def resume_from(self, t: datetime) -> None:
        """Continue from site time ``t`` (e.g. the last time a previous run recorded)."""
        with self._lock:
            self._wall0 = self._wall()
            self._start = t.astimezone(self.tz)


class SteppableClock:
    """A clock that moves only when told.

    Parameters
    ----------
    start : datetime
        Timezone-aware start.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ClockError("start", "must be timezone-aware")
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._t

    def set(self, t: datetime) -> None:
        """Move to ``t`` (never backwards)."""
        with self._lock:
            if t < self._t:
                raise ClockError("now", f"cannot go back from {self._t.isoformat()} to {t.isoformat()}")
            self._t = t

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` and return the new time."""
        with self._lock:
            self._t += timedelta(seconds=seconds)
            return self._t


def clock_from_env(timezone: str, environ: dict[str, str] | None = None) -> SiteClock:
    """The site clock as the environment sets it (``EV_NOW``, ``EV_CLOCK_SPEED``)."""
    env = dict(os.environ if environ is None else environ)
    speed = clock_speed(env)
    start = _env_start(timezone, env)
    if speed is None:
        speed = 0.0 if start is not None else 1.0
    return SiteClock(timezone, speed=speed, start=start)
