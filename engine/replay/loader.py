"""Load a replay window: session files and the live journal, read once (memoised), on a step grid.

The parts, by job: :mod:`engine.replay.acn` reads and validates ACN-Data files,
:mod:`engine.replay.site_journal` reads the live site's journal, :mod:`engine.replay.window`
puts a window's sessions on the step grid. The modelling choices are in ``docs/replay.md``.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

from engine.replay.acn import (
    ACN_TZ,
    LoadReport,
    RawSession,
    default_paths,
    read_sessions,
)
from engine.replay.options import window_options
from engine.replay.problem import ReplayError
from engine.replay.site_journal import read_journal
from engine.replay.window import ReplayWindow, select_window

__all__ = ["load_window", "data_range"]


_CACHE: dict[tuple, tuple[list[RawSession], LoadReport]] = {}
_CACHE_LOCK = threading.Lock()  # the app's sessions run in threads


def _cached(files: list[Path], journal: Path | None) -> tuple[list[RawSession], LoadReport]:
    """Read (memoised per file set and modification times) files and an optional journal."""
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns if p.exists() else -1) for p in files)
    if journal is not None:
        key += (("journal", str(journal.resolve()), journal.stat().st_mtime_ns if journal.exists() else -1),)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    sessions, report = read_sessions(files) if files else ([], LoadReport())
    if journal is not None:
        more, jrep = read_journal(journal)
        sessions = sorted(sessions + more, key=lambda s: (s.arrival, s.session_id))
        skipped = Counter(report.skipped)
        skipped.update(jrep.skipped)
        report = LoadReport(files=report.files + jrep.files, rows_read=report.rows_read + jrep.rows_read,
                            rows_valid=report.rows_valid + jrep.rows_valid, skipped=dict(skipped))
    with _CACHE_LOCK:
        if len(_CACHE) > 16:  # a handful of file sets; journals change often
            _CACHE.clear()
        _CACHE[key] = (sessions, report)
    return sessions, report


def load_window(
    paths: Sequence[str | Path] | None = None,
    start: date | str = "2019-05-06",
    days: int = 1,
    step_minutes: int = 5,
    rated_kw: float = 6.6,
    demand: str = "delivered",
    force_feasible: bool = True,
    journal: str | Path | None = None,
) -> ReplayWindow:
    """Read session files and/or a kiosk journal (memoised) and select a window.

    Parameters
    ----------
    paths : sequence of path, optional
        Session files; default the shipped Caltech files (none when only a journal is given).
    start : date or str
        First local day (``YYYY-MM-DD``).
    days, step_minutes, rated_kw, demand, force_feasible
        As :func:`select_window`.
    journal : path, optional
        The live site's kiosk journal (:func:`read_journal`).

    Returns
    -------
    ReplayWindow
    """
    window_options(start, days, step_minutes, rated_kw, demand)  # a bad option fails before any file is read
    if paths:
        files = [Path(p) for p in paths]
    else:
        files = [] if journal is not None else default_paths("caltech")
    sessions, report = _cached(files, Path(journal) if journal is not None else None)
    return select_window(sessions, report, start, days, step_minutes, rated_kw, demand, force_feasible)


def data_range(paths: Sequence[str | Path] | None = None, tz: ZoneInfo = ACN_TZ) -> tuple[date, date]:
    """First and last local arrival date in session files (for date pickers).

    Parameters
    ----------
    paths : sequence of path, optional
        Session files; default the shipped Caltech files.
    tz : ZoneInfo
        Site time zone.

    Returns
    -------
    (date, date)
        First and last day with a valid session.
    """
    files = [Path(p) for p in paths] if paths else default_paths("caltech")
    sessions = _cached(files, None)[0]
    if not sessions:
        raise ReplayError("--sessions", "no valid session in the files")
    return sessions[0].arrival.astimezone(tz).date(), sessions[-1].arrival.astimezone(tz).date()
