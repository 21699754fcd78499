"""The site's time zone: every time the engine handles is aware and local to the site.

The site's clock itself (real, accelerated, frozen at ``EV_NOW``, or stepped by tests and
headless days) is :mod:`engine.runtime.clock`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import FieldError

__all__ = ["site_tz", "ClockError"]


class ClockError(FieldError):
    """A bad time zone or clock setting; the message starts with the offending field
    (:class:`engine.errors.FieldError`)."""


def site_tz(timezone: str) -> ZoneInfo:
    """The IANA zone of a site (``timezone`` field)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClockError("timezone", f"unknown time zone {timezone!r}") from None
