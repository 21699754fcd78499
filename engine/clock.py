"""The site's clock: real time in the site's time zone, or a fixed time for demos and tests.

Set ``EV_NOW`` to an ISO 8601 time (e.g. ``2026-05-06T09:00:00-07:00``) to freeze the clock;
a naive time is read in the site's time zone. Otherwise :func:`site_now` is the wall clock.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import FieldError

__all__ = ["site_now", "site_tz", "floor_to_step", "ClockError"]


class ClockError(FieldError):
    """A bad clock setting; the message starts with the offending field (:class:`engine.errors.FieldError`)."""


def site_tz(timezone: str) -> ZoneInfo:
    """The IANA zone of a site (``timezone`` field)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClockError("timezone", f"unknown time zone {timezone!r}") from None


def site_now(timezone: str) -> datetime:
    """Now in the site's time zone (``EV_NOW`` if set), timezone-aware, to the second."""
    tz = site_tz(timezone)
    fixed = os.environ.get("EV_NOW", "").strip()
    if fixed:
        try:
            t = datetime.fromisoformat(fixed)
        except ValueError:
            raise ClockError("EV_NOW", f"not an ISO 8601 time: {fixed!r}") from None
        t = t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)
    else:
        t = datetime.now(tz)
    return t.replace(microsecond=0)


def floor_to_step(t: datetime, step_minutes: int) -> datetime:
    """``t`` rounded down to a whole step of the local day (seconds dropped)."""
    minutes = t.hour * 60 + t.minute
    return t.replace(second=0, microsecond=0) - timedelta(minutes=minutes % step_minutes)
