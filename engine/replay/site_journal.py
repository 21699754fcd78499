"""The live site's journal as replay sessions (``python -m engine replay --journal``).

The journal is read only through :mod:`engine.runtime.journal` (its SQLite file through
:class:`~engine.runtime.journal.Journal`, an older ``sessions.jsonl`` through
:func:`~engine.runtime.journal.read_jsonl_sessions`); this module turns its sessions into
:class:`~engine.replay.acn.RawSession` rows.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

from engine.replay.acn import ACN_TZ, MAX_SESSION_HOURS, LoadReport, RawSession
from engine.replay.problem import ReplayError
from engine.runtime.journal import (
    JOURNAL_NAME,
    Journal,
    JournalError,
    SessionRecord,
    read_jsonl_sessions,
)

__all__ = ["read_journal"]


def read_journal(path: str | Path, tz: ZoneInfo = ACN_TZ) -> tuple[list[RawSession], LoadReport]:
    """Read the live site's journal as replay sessions.

    ``path`` is the live site's journal (``EV_STATE_DIR/journal.sqlite``, or the state folder
    holding it), where an ended session has its real departure and its metered energy; or an
    older ``sessions.jsonl`` of booked kiosk sessions. A session still open (every one of a
    ``sessions.jsonl``) has no real departure and no metered energy yet: its stated departure is
    taken as the real one and its request as the need under both ``demand`` conventions. Naive
    times are read in ``tz``. Skipped lines are counted like CSV rows (a torn last line is
    ``unparseable``).

    Parameters
    ----------
    path : path
        The journal file or its folder.
    tz : ZoneInfo
        Site time zone for times without an offset.

    Returns
    -------
    sessions : list of RawSession
        Sorted by arrival.
    report : LoadReport
    """
    path = Path(path)
    if not path.exists():
        raise ReplayError("--journal", f"no such file: {path}")
    if path.is_dir() or path.suffix == ".sqlite":
        folder = path if path.is_dir() else path.parent
        if path.is_file() and path.name != JOURNAL_NAME:
            raise ReplayError("--journal", f"a live journal is named {JOURNAL_NAME}, got {path.name}")
        if path.is_dir() and not (folder / JOURNAL_NAME).exists():
            raise ReplayError("--journal", f"no {JOURNAL_NAME} in {folder}")
        try:
            j = Journal(folder)
            records = j.sessions()
            j.close()
        except (JournalError, sqlite3.Error) as exc:
            raise ReplayError("--journal", f"cannot read {path}: {exc}") from None
        return _as_raw(records, LoadReport(files=[str(folder / JOURNAL_NAME)]))
    try:
        records, skipped = read_jsonl_sessions(path, tz)
    except OSError as exc:
        raise ReplayError("--journal", f"cannot read {path}: {exc}") from None
    report = LoadReport(files=[str(path)], rows_read=sum(skipped.values()), skipped=dict(skipped))
    return _as_raw(records, report)


def _as_raw(records: Iterable[SessionRecord], report: LoadReport) -> tuple[list[RawSession], LoadReport]:
    """Journal sessions as replay sessions (``report`` counts them; stays over 24 h clipped)."""
    limit = timedelta(hours=MAX_SESSION_HOURS)
    out = []
    for r in records:
        report.rows_read += 1
        left = r.ended_at if r.ended_at is not None else r.departure
        if left <= r.arrival:
            report.skipped["departure <= arrival"] = report.skipped.get("departure <= arrival", 0) + 1
            continue
        long = left - r.arrival > limit
        out.append(RawSession(session_id=r.id, station_id=r.cp, arrival=r.arrival,
                              departure=r.arrival + limit if long else left, estimated_departure=r.departure,
                              requested_kwh=float(r.requested_kwh),
                              delivered_kwh=float(r.delivered_kwh if r.state == "ended" else r.requested_kwh),
                              claimed=True, clipped_24h=long))
    out.sort(key=lambda s: (s.arrival, s.session_id))
    report.rows_valid = len(out)
    return out, report
