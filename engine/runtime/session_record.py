"""A charging session and its promise as the journal keeps it (:class:`SessionRecord`), and the
one reader of the ``sessions.jsonl`` files older versions kept (:func:`read_jsonl_sessions`).

No database here: :mod:`engine.runtime.journal` stores these records in SQLite and re-exports both
names.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

__all__ = ["SessionRecord", "read_jsonl_sessions"]


@dataclass(frozen=True)
class SessionRecord:
    """One charging session and its promise.

    Parameters
    ----------
    id : str
    cp : str
        Charge point id.
    cabinet : str
        Its cabinet when the session started.
    arrival : datetime
        Plug-in (booking) time, site local.
    departure : datetime
        The departure the driver stated.
    requested_kwh : float
        The driver's need [kWh].
    guaranteed_kwh : float
        What the site promised by ``departure`` [kWh].
    likely_kwh : float or None
        What the site expected to deliver in all when it promised [kWh].
    battery_kwh, soc_now_pct, soc_target_pct : float or None
        Given when the driver entered battery size and SOC [kWh, %, %].
    origin : str
        ``kiosk``, ``headless`` or ``charger`` (a transaction no driver booked).
    state : {"open", "ended"}
    ended_at : datetime or None
    delivered_kwh : float
        Energy metered so far (final once ended) [kWh].
    end_reason : str or None
        ``left``, ``stopped``, ...
    car : dict or None
        The simulated car's parameters (simulator only).
    """

    id: str
    cp: str
    cabinet: str
    arrival: datetime
    departure: datetime
    requested_kwh: float
    guaranteed_kwh: float
    likely_kwh: float | None = None
    battery_kwh: float | None = None
    soc_now_pct: float | None = None
    soc_target_pct: float | None = None
    origin: str = "kiosk"
    state: str = "open"
    ended_at: datetime | None = None
    delivered_kwh: float = 0.0
    end_reason: str | None = None
    car: dict[str, Any] | None = None

    def active(self, now: datetime) -> bool:
        """Open and plugged in at ``now``."""
        return self.state == "open" and self.arrival <= now

    def in_promise(self, now: datetime) -> bool:
        """The promise still runs at ``now`` (before the stated departure)."""
        return now < self.departure

    def soc_pct(self, delivered_kwh: float | None = None) -> float | None:
        """State of charge after ``delivered_kwh`` (default: metered so far) [%]."""
        if not self.battery_kwh or self.soc_now_pct is None:
            return None
        e = self.delivered_kwh if delivered_kwh is None else delivered_kwh
        return min(100.0, self.soc_now_pct + 100.0 * e / self.battery_kwh)

    def to_row(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("arrival", "departure", "ended_at"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        d["car"] = json.dumps(self.car) if self.car is not None else None
        return d

    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> "SessionRecord":
        d = dict(row)
        for k in ("arrival", "departure", "ended_at"):
            d[k] = datetime.fromisoformat(d[k]) if d.get(k) else None
        d["car"] = json.loads(d["car"]) if d.get("car") else None
        return cls(**{f.name: d.get(f.name, f.default) for f in fields(cls)})


def read_jsonl_sessions(path: str | os.PathLike[str], tz: tzinfo | None = None,
                        ) -> tuple[list[SessionRecord], dict[str, int]]:
    """The sessions of an old ``sessions.jsonl`` (one booked kiosk session per line).

    The one reader of that file: the journal migrates it on its first open, the replay reads it
    (``--journal``). Each line holds ``id``, ``cp``, ``arrival``, ``departure`` (stated) and
    ``requested_kwh``, and may hold ``cabinet``, ``guaranteed_kwh`` (0 when absent) and the
    driver's battery and SOC. Blank lines are ignored; any other line that is not a valid session
    is counted under its reason: ``unparseable`` (bad JSON, a missing field, a torn last line),
    ``negative or NaN energy``, ``departure <= arrival``, ``duplicate session_id``.

    Parameters
    ----------
    path : path
        The file.
    tz : tzinfo, optional
        Zone of times written without an offset (default: left naive).

    Returns
    -------
    records : list of SessionRecord
        In file order, state ``open``.
    skipped : dict
        Reason -> lines skipped.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    records: list[SessionRecord] = []
    skipped: dict[str, int] = {}
    seen: set[str] = set()

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for line in Path(path).read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            s = SessionRecord(
                id=str(d["id"]), cp=str(d["cp"]), cabinet=str(d.get("cabinet") or ""),
                arrival=datetime.fromisoformat(str(d["arrival"])), departure=datetime.fromisoformat(str(d["departure"])),
                requested_kwh=float(d["requested_kwh"]), guaranteed_kwh=float(d.get("guaranteed_kwh") or 0.0),
                battery_kwh=d.get("battery_kwh"), soc_now_pct=d.get("soc_now_pct"),
                soc_target_pct=d.get("soc_target_pct"), origin="kiosk",
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            skip("unparseable")
            continue
        if tz is not None:
            s = replace(s, arrival=s.arrival if s.arrival.tzinfo else s.arrival.replace(tzinfo=tz),
                        departure=s.departure if s.departure.tzinfo else s.departure.replace(tzinfo=tz))
        try:
            backwards = s.departure <= s.arrival
        except TypeError:  # one time with an offset, the other without
            skip("unparseable")
            continue
        if not math.isfinite(s.requested_kwh) or s.requested_kwh < 0:
            skip("negative or NaN energy")
        elif backwards:
            skip("departure <= arrival")
        elif s.id in seen:
            skip("duplicate session_id")
        else:
            seen.add(s.id)
            records.append(s)
    return records, skipped
