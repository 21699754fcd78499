"""How long a car is likely to stay, learned from the site's history of stated against actual departures.

Drivers' stated departures are early more often than late (ACN-Data 2019-05 to 2020-03, claimed
weekday sessions: at Caltech 56 % left more than 30 min after the time they gave, 21 % more than
30 min before; at JPL 50 % / 25 %). Which of them stay is partly predictable from what the
kiosk knows: the hour of arrival and the stay stated (a driver arriving at 08:00 who says 3 h
often stays the working day). :class:`StayModel` keeps, per (arrival hour, stated stay in whole
hours), a quantile of how much longer than stated the cars of past days of the same kind stayed
(the overstay: 0 where drivers leave when they said, so that with exact departures it changes
nothing).

It is used for planning only, never for a promise: a car charging best effort that was never
promised anything is planned (``CarState.likely_departure``) as leaving at
``stated + max(0, likely overstay)``, so the plan serves first the cars that really leave
first. Measured in ``docs/promises.md`` ("Learned stays").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo as TzInfo
from zoneinfo import ZoneInfo

import numpy as np

from engine.promises.forecast import PastSession

__all__ = ["STAY_QUANTILE", "MIN_SESSIONS", "HISTORY_DAYS", "StayModel"]

STAY_QUANTILE = 0.5
"""Quantile of the overstays seen in a group taken as the likely one (the median; 0.5, 0.75 and
0.9 measured in ``docs/promises.md``, "Learned stays": 0.5 leaves the fewest cases below EDF)."""
MIN_SESSIONS = 5
"""Fewest past sessions a group needs; fewer: the stated-stay group alone, then the stated departure."""
HISTORY_DAYS = 28
"""Days of the live site's journal it learns from (the replay: the window's history, about 5 weeks) [d]."""
MAX_STATED_HOURS = 12
"""Stated stays of this many hours or more share one group [h]."""


def _stated_hours(hours: float) -> int:
    return min(int(round(hours)), MAX_STATED_HOURS)


@dataclass(frozen=True)
class StayModel:
    """Likely overstays [h] by (arrival hour, stated stay in whole hours), and by stated stay alone.

    Parameters
    ----------
    by_hour_and_stated : dict
        (local arrival hour, stated stay [h, rounded]) -> likely overstay (stay less stated) [h].
    by_stated : dict
        Stated stay [h, rounded] -> likely overstay [h].
    tz : tzinfo or None
        The site's time zone (arrival hours are read there); None: each arrival's own offset.
    sessions : int
        Past sessions learned from.
    """

    by_hour_and_stated: dict[tuple[int, int], float] = field(default_factory=dict)
    by_stated: dict[int, float] = field(default_factory=dict)
    tz: TzInfo | None = None
    sessions: int = 0

    @classmethod
    def from_history(cls, history: Iterable[PastSession], now: datetime, *, tz: ZoneInfo | None = None,
                     quantile: float = STAY_QUANTILE, min_sessions: int = MIN_SESSIONS) -> StayModel:
        """Learn from the sessions of days before ``now``'s of the same kind (weekday / weekend).

        Parameters
        ----------
        history : iterable of PastSession
            Past sessions; those without a ``stated_departure``, not yet left at ``now``, or of
            another kind of day are ignored.
        now : datetime
            The decision time (timezone-aware).
        tz : ZoneInfo, optional
            The site's time zone; default ``now``'s.
        quantile : float
            Quantile of a group's overstays taken as its likely one, in (0, 1).
        min_sessions : int
            Fewest sessions a group needs to be used.

        Returns
        -------
        StayModel
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
        tzinfo = tz or now.tzinfo
        today = now.astimezone(tzinfo).date()
        weekday = today.weekday() < 5
        g2: dict[tuple[int, int], list[float]] = defaultdict(list)
        g1: dict[int, list[float]] = defaultdict(list)
        n = 0
        for s in history:
            if s.stated_departure is None or s.departure > now:
                continue
            local = s.arrival.astimezone(tzinfo)
            d: date = local.date()
            if d >= today or (d.weekday() < 5) != weekday:
                continue
            stated = (s.stated_departure - s.arrival).total_seconds() / 3600.0
            stay = (s.departure - s.arrival).total_seconds() / 3600.0
            if stated <= 0 or stay <= 0 or not (math.isfinite(stated) and math.isfinite(stay)):
                continue
            key = _stated_hours(stated)
            g2[(local.hour, key)].append(stay - stated)
            g1[key].append(stay - stated)
            n += 1

        def q(xs: list[float]) -> float:
            return float(np.quantile(np.asarray(xs), quantile))

        return cls({k: q(v) for k, v in g2.items() if len(v) >= min_sessions},
                   {k: q(v) for k, v in g1.items() if len(v) >= min_sessions},
                   tzinfo, n)

    def likely_departure(self, arrival: datetime, stated: datetime) -> datetime:
        """When a car that arrived at ``arrival`` saying ``stated`` is likely to leave (never before ``stated``).

        Parameters
        ----------
        arrival, stated : datetime
            Its arrival and stated departure (timezone-aware).

        Returns
        -------
        datetime
            ``stated`` plus the likely overstay if positive; ``stated`` when no group has enough
            history.
        """
        stated_h = (stated - arrival).total_seconds() / 3600.0
        local = arrival.astimezone(self.tz) if self.tz is not None else arrival
        key = _stated_hours(stated_h)
        over = self.by_hour_and_stated.get((local.hour, key), self.by_stated.get(key))
        if over is None or over <= 0.0:
            return stated
        return stated + timedelta(hours=over)
