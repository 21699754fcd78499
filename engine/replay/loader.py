"""Read ACN-Data session files and turn them into a step-indexed replay window.

The ACN-Data CSV format (``data/acn/README.md``): ``arrival``, ``departure``,
``requested_energy (kWh)``, ``delivered_energy (kWh)``, ``station_id``, ``session_id``,
``estimated_departure``, ``claimed``. Times are ISO 8601 with the site's local offset
(America/Los_Angeles for both ACN sites).

Row validation (each skipped row is counted under its reason in :class:`LoadReport`):

- ``unparseable``: a time or energy that does not parse, or a missing field;
- ``departure <= arrival``;
- ``negative or NaN energy`` (requested or delivered);
- ``unknown station format``: ``station_id`` must look like ``CA-305`` or ``AG-4F52``
  (two capital letters, a dash, letters/digits); the Caltech files hold a few rows of a
  numeric meter id, which are not charge points;
- ``duplicate session_id``.

Sessions longer than 24 h (cars left plugged in over a weekend) are **clipped** to 24 h after
arrival, as acnportal's ``max_len`` does; their energy is kept. Counted as ``clipped_24h``.

Window selection (:func:`select_window`): a session is replayed when it is plugged in at some
moment of ``[start 00:00, start + days 00:00)`` local time: it *arrives* inside the window, or
it plugged in before the window and is still present at its start (counted as
``started_before_window``; it is present from step 0 and its need is the share of its need
proportional to the part of its stay inside the window, as if it had charged evenly before).
A car staying past the window's end keeps its whole stay and its whole need: the replay's
horizon is extended to the last such departure (counted as ``stays_past_window_end``), so
the KPIs of a window do not depend on where its last day ends. Arrival and departure are
rounded **down** to whole steps, as acnportal does (``_datetime_to_timestamp(...,
round_up=False)`` for both), so figures line up with the field's reference simulator: a car
plugged in at 08:02 is present from the 08:00 step, one leaving at 12:03 until the 12:00 step
begins. Sessions shorter than one step after rounding are skipped (``shorter than one step``).
Sessions whose driver gave no input (``claimed`` false: the requested energy is then the
delivered one) are counted in :attr:`LoadReport.no_driver_input`.

Demand (what the driver needs from the replay): by default the **delivered** energy, the
ACN-Sim convention (what the car actually took; drivers over-request, so the claimed request
is a poor measure of need); ``demand="requested"`` uses ``requested_energy (kWh)``. With
``force_feasible`` (default, as acnportal's ``force_feasible``) a demand above
``rated_kw * window`` is lowered to it (counted as ``demand_clipped_to_rate``), so that
``demands_met_pct`` measures scheduling, not physics.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")

import numpy as np
import pandas as pd

from engine.errors import FieldError

__all__ = [
    "ACN_TZ",
    "DATA_DIR",
    "SITES",
    "RawSession",
    "LoadReport",
    "ReplayWindow",
    "ReplayError",
    "default_paths",
    "read_sessions",
    "select_window",
    "load_window",
    "read_journal",
    "data_range",
]

ACN_TZ = ZoneInfo("America/Los_Angeles")
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "acn"
SITES = ("caltech", "jpl")
MAX_SESSION_HOURS = 24.0
HISTORY_DAYS = 35
"""Days of sessions before a window kept as its history (forecasts use the last weeks)."""
STATION_RE = re.compile(r"^[A-Z]{2}-[0-9A-Z]+$")
COLUMNS = (
    "arrival",
    "departure",
    "requested_energy (kWh)",
    "delivered_energy (kWh)",
    "station_id",
    "session_id",
    "estimated_departure",
    "claimed",
)


class ReplayError(FieldError):
    """Invalid replay input; ``field`` names the offending option or file (:class:`engine.errors.FieldError`)."""


@dataclass(frozen=True)
class RawSession:
    """One validated ACN session, in absolute time.

    Parameters
    ----------
    session_id : str
    station_id : str
        The space / charge point id, e.g. ``"CA-305"``.
    arrival, departure, estimated_departure : datetime
        Timezone-aware times; ``departure`` already clipped to 24 h after arrival.
    requested_kwh : float
        The driver's claimed request [kWh].
    delivered_kwh : float
        What the car actually took at the real site [kWh].
    claimed : bool
        False when the driver gave no input (then requested equals delivered).
    """

    session_id: str
    station_id: str
    arrival: datetime
    departure: datetime
    estimated_departure: datetime
    requested_kwh: float
    delivered_kwh: float
    claimed: bool
    clipped_24h: bool = False


@dataclass
class LoadReport:
    """What the loader read, kept, skipped and clipped.

    Parameters
    ----------
    files : list of str
        Files read.
    rows_read : int
        Data rows in those files.
    rows_valid : int
        Rows that passed validation.
    skipped : dict
        Reason -> count of rows dropped while reading the files, plus (after
        :func:`select_window`) ``shorter than one step``: sessions of the window dropped.
    clipped : dict
        Reason -> count of the window's sessions kept but changed (``clipped_24h``,
        ``clipped_window_end``, ``demand_clipped_to_rate``); empty before a window is chosen.
    in_window : int
        Sessions plugged in during the replay window (before the step-rounding skip).
    no_driver_input : int
        Of the window's replayed sessions, those whose driver gave no input (``claimed``
        false): their requested energy is what they took.
    """

    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_valid: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    clipped: dict[str, int] = field(default_factory=dict)
    in_window: int = 0
    no_driver_input: int = 0

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return {
            "files": list(self.files),
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "skipped": dict(self.skipped),
            "clipped": dict(self.clipped),
            "in_window": self.in_window,
            "no_driver_input": self.no_driver_input,
        }

    def skipped_total(self) -> int:
        """Rows or sessions dropped, all reasons together."""
        return int(sum(self.skipped.values()))


@dataclass(frozen=True)
class ReplayWindow:
    """Sessions of a replay window on a step grid (all arrays length ``n`` sessions).

    Parameters
    ----------
    start : datetime
        Local midnight at which step 0 begins.
    step_minutes : int
        Step length [min].
    horizon_steps : int
        Steps simulated: the window's steps (a DST day has 276 or 300 five-minute steps),
        extended to the last departure of a car staying past the window's end.
    session_ids, station_ids : list of str
    arrival_step : ndarray of int
        First step the car is present.
    departure_step : ndarray of int
        Real departure: the car is present at steps ``arrival_step <= t < departure_step``.
    estimated_step : ndarray of int
        The driver's stated departure on the grid, within ``(arrival_step, horizon_steps]``.
    demand_kwh : ndarray
        Energy the car needs in the replay [kWh] (see module doc).
    requested_kwh, delivered_kwh : ndarray
        The file's claimed request and real delivered energy [kWh] (for a car plugged in
        before the window, the request's share of the stay inside it).
    report : LoadReport
    window_steps : int
        Steps of the window itself (``<= horizon_steps``).
    claimed : ndarray of bool
        Whether each session's driver gave input (else requested = delivered energy).
    need_kwh : ndarray
        Each session's need as the data give it under the ``demand`` convention, before
        ``force_feasible`` capping (``demand_kwh`` is the capped, deliverable need) [kWh].
    history : tuple of RawSession
        Sessions of the same files that arrived in the :data:`HISTORY_DAYS` days before the
        window's end (the window's own included): what an online strategy may learn from,
        each only once it has left (see :mod:`engine.promises`).
    tz : ZoneInfo
        The site's time zone.
    demand : {"delivered", "requested"}
        The need convention the window was loaded with.
    """

    start: datetime
    step_minutes: int
    horizon_steps: int
    session_ids: list[str]
    station_ids: list[str]
    arrival_step: np.ndarray
    departure_step: np.ndarray
    estimated_step: np.ndarray
    demand_kwh: np.ndarray
    requested_kwh: np.ndarray
    delivered_kwh: np.ndarray
    report: LoadReport
    window_steps: int = -1
    claimed: np.ndarray | None = None
    need_kwh: np.ndarray | None = None
    history: tuple = ()
    tz: ZoneInfo = ZoneInfo("America/Los_Angeles")
    demand: str = "delivered"

    @property
    def n(self) -> int:
        """Number of sessions."""
        return len(self.session_ids)

    @property
    def dt_hours(self) -> float:
        """Step length [h]."""
        return self.step_minutes / 60.0

    def step_times(self) -> list[datetime]:
        """Local start time of every step."""
        utc0 = self.start.astimezone(ZoneInfo("UTC"))
        return [
            (utc0 + timedelta(minutes=self.step_minutes * k)).astimezone(self.start.tzinfo)
            for k in range(self.horizon_steps)
        ]


def default_paths(site: str = "caltech") -> list[Path]:
    """The shipped session files of an ACN site.

    Parameters
    ----------
    site : {"caltech", "jpl"}

    Returns
    -------
    list of Path
        ``data/acn/<site>/*.csv.gz``, sorted.
    """
    if site not in SITES:
        raise ReplayError("--site", f"unknown site {site!r} (choose from {', '.join(SITES)})")
    paths = sorted((DATA_DIR / site).glob("*.csv*"))
    if not paths:
        raise ReplayError("--sessions", f"no session files under {DATA_DIR / site}")
    return paths


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ReplayError("--sessions", f"no such file: {path}")
    if not (path.name.endswith(".csv") or path.name.endswith(".csv.gz")):
        raise ReplayError("--sessions", f"expected a .csv or .csv.gz file: {path}")
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (OSError, EOFError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReplayError("--sessions", f"cannot read {path}: {exc}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ReplayError("--sessions", f"{path.name}: missing column(s) {', '.join(missing)}")
    return df


def _parse_time(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col, errors="coerce", utc=True, format="ISO8601")


def read_sessions(paths: Sequence[str | Path] | None = None) -> tuple[list[RawSession], LoadReport]:
    """Read and validate ACN session files.

    Parameters
    ----------
    paths : sequence of path, optional
        ``.csv`` or ``.csv.gz`` files in the ACN-Data format; default the shipped Caltech files.

    Returns
    -------
    sessions : list of RawSession
        Valid rows, sorted by arrival.
    report : LoadReport
        Counts of rows read, kept, skipped (by reason) and clipped.

    Raises
    ------
    ReplayError
        A file that is missing, unreadable or lacks a column (field ``--sessions``).
    """
    files = [Path(p) for p in paths] if paths else default_paths("caltech")
    report = LoadReport(files=[str(p) for p in files])
    skipped: Counter[str] = Counter()
    out: list[RawSession] = []
    seen: set[str] = set()
    for path in files:
        df = _read_csv(path)
        report.rows_read += len(df)
        arr = _parse_time(df["arrival"])
        dep = _parse_time(df["departure"])
        est = _parse_time(df["estimated_departure"])
        req = pd.to_numeric(df["requested_energy (kWh)"], errors="coerce")
        dlv = pd.to_numeric(df["delivered_energy (kWh)"], errors="coerce")
        # Vectorised validation; each row lands in the first reason that applies.
        req_txt = df["requested_energy (kWh)"].str.strip()
        dlv_txt = df["delivered_energy (kWh)"].str.strip()
        sid_txt = df["session_id"].str.strip()
        station_txt = df["station_id"].str.strip()
        bad_parse = arr.isna() | dep.isna() | (req_txt == "") | (dlv_txt == "") | (sid_txt == "")
        bad_energy = ~bad_parse & (
            req.isna() | dlv.isna() | ~np.isfinite(req.fillna(0)) | ~np.isfinite(dlv.fillna(0))
            | (req < 0) | (dlv < 0)
        )
        ok = ~bad_parse & ~bad_energy
        bad_order = ok & (dep <= arr)
        ok &= ~bad_order
        bad_station = ok & ~station_txt.str.match(STATION_RE.pattern)
        ok &= ~bad_station
        skipped["unparseable"] += int(bad_parse.sum())
        skipped["negative or NaN energy"] += int(bad_energy.sum())
        skipped["departure <= arrival"] += int(bad_order.sum())
        skipped["unknown station format"] += int(bad_station.sum())
        claimed_all = df["claimed"].str.strip().str.lower().isin(("true", "1", "yes"))
        limit = pd.Timedelta(hours=MAX_SESSION_HOURS)
        for i in np.flatnonzero(ok.to_numpy()):
            sid = sid_txt.iat[i]
            if sid in seen:
                skipped["duplicate session_id"] += 1
                continue
            seen.add(sid)
            a, d, e = arr.iat[i], dep.iat[i], est.iat[i]
            long = (d - a) > limit
            if long:
                d = a + limit
            if pd.isna(e):
                e = d  # no stated departure: take the real one
            out.append(
                RawSession(
                    session_id=sid,
                    station_id=station_txt.iat[i],
                    arrival=a.to_pydatetime(),
                    departure=d.to_pydatetime(),
                    estimated_departure=e.to_pydatetime(),
                    requested_kwh=float(req.iat[i]),
                    delivered_kwh=float(dlv.iat[i]),
                    claimed=bool(claimed_all.iat[i]),
                    clipped_24h=bool(long),
                )
            )
    skipped = Counter({k: v for k, v in skipped.items() if v})
    out.sort(key=lambda s: (s.arrival, s.session_id))
    report.rows_valid = len(out)
    report.skipped = dict(skipped)
    report.clipped = {}
    return out, report


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of ``day``, expressed in UTC (so differences count real hours)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def select_window(
    sessions: Iterable[RawSession],
    report: LoadReport,
    start: date,
    days: int = 1,
    step_minutes: int = 5,
    rated_kw: float = 6.6,
    demand: str = "delivered",
    force_feasible: bool = True,
    tz: ZoneInfo = ACN_TZ,
) -> ReplayWindow:
    """Put the sessions arriving in ``[start, start + days)`` (local dates) on a step grid.

    Parameters
    ----------
    sessions : iterable of RawSession
    report : LoadReport
        The loader's report; a copy extended with the window's counts is attached to the result.
    start : date
        First local day.
    days : int
        Number of days (>= 1).
    step_minutes : int
        Step length [min], a divisor of 1440.
    rated_kw : float
        Every charge point's rating [kW] (for ``force_feasible``).
    demand : {"delivered", "requested"}
        Which energy is the driver's need (module doc).
    force_feasible : bool
        Lower a demand above ``rated_kw * window`` to it.
    tz : ZoneInfo
        Site time zone.

    Returns
    -------
    ReplayWindow
    """
    if days < 1:
        raise ReplayError("--days", "must be >= 1")
    if step_minutes < 1 or 1440 % step_minutes:
        raise ReplayError("--step-minutes", "must be a positive divisor of 1440")
    if not (rated_kw > 0 and math.isfinite(rated_kw)):
        raise ReplayError("--rated-kw", "must be > 0")
    if demand not in ("delivered", "requested"):
        raise ReplayError("--demand", "must be delivered or requested")
    try:
        t0 = _local_midnight(start, tz)
        t1 = _local_midnight(start + timedelta(days=days), tz)
    except (OverflowError, ValueError):
        raise ReplayError("--start", f"{start} + {days} day(s) is out of range") from None
    step_s = step_minutes * 60.0
    window_steps = int(round((t1 - t0).total_seconds() / step_s))
    dt_h = step_minutes / 60.0
    skipped = Counter(report.skipped)
    clipped = Counter(report.clipped)
    in_window = 0
    no_input = 0
    ids: list[str] = []
    stations: list[str] = []
    a_s: list[int] = []
    d_s: list[int] = []
    e_s: list[int] = []
    dem: list[float] = []
    req: list[float] = []
    dlv: list[float] = []
    claimed: list[bool] = []
    raw: list[float] = []
    history: list[RawSession] = []
    h0 = t0 - timedelta(days=HISTORY_DAYS)
    for s in sessions:
        if h0 <= s.arrival < t1:
            history.append(s)
        if not (s.arrival < t1 and s.departure > t0):
            continue
        in_window += 1
        if s.clipped_24h:
            clipped["clipped_24h"] += 1
        share = 1.0
        arr = s.arrival
        if arr < t0:  # plugged in before the window, still present at its start
            clipped["started_before_window"] += 1
            share = (s.departure - t0).total_seconds() / max((s.departure - s.arrival).total_seconds(), 1e-9)
            arr = t0
        a = int(math.floor((arr - t0).total_seconds() / step_s + 1e-9))
        d = int(math.floor((s.departure - t0).total_seconds() / step_s + 1e-9))
        if s.departure > t1:
            clipped["stays_past_window_end"] += 1
        if d <= a:
            skipped["shorter than one step"] += 1
            continue
        e = int(math.floor((s.estimated_departure - t0).total_seconds() / step_s + 1e-9))
        e = max(e, a + 1)
        need = share * (s.delivered_kwh if demand == "delivered" else s.requested_kwh)
        cap = rated_kw * (d - a) * dt_h
        if force_feasible and need > cap + 1e-9:
            need = cap
            clipped["demand_clipped_to_rate"] += 1
        if not s.claimed:
            no_input += 1
        ids.append(s.session_id)
        stations.append(s.station_id)
        a_s.append(a)
        d_s.append(d)
        e_s.append(e)
        dem.append(float(need))
        req.append(share * s.requested_kwh)
        raw.append(float(share * (s.delivered_kwh if demand == "delivered" else s.requested_kwh)))
        dlv.append(s.delivered_kwh)
        claimed.append(bool(s.claimed))
    horizon = max([window_steps] + d_s)
    e_s = [min(e, horizon) for e in e_s]
    rep = LoadReport(
        files=list(report.files),
        rows_read=report.rows_read,
        rows_valid=report.rows_valid,
        skipped=dict(skipped),
        clipped=dict(clipped),
        in_window=in_window,
        no_driver_input=no_input,
    )
    return ReplayWindow(
        start=t0.astimezone(tz),
        step_minutes=step_minutes,
        horizon_steps=horizon,
        session_ids=ids,
        station_ids=stations,
        arrival_step=np.asarray(a_s, dtype=int),
        departure_step=np.asarray(d_s, dtype=int),
        estimated_step=np.asarray(e_s, dtype=int),
        demand_kwh=np.asarray(dem, dtype=float),
        requested_kwh=np.asarray(req, dtype=float),
        delivered_kwh=np.asarray(dlv, dtype=float),
        report=rep,
        window_steps=window_steps,
        claimed=np.asarray(claimed, dtype=bool),
        need_kwh=np.asarray(raw, dtype=float),
        history=tuple(history),
        tz=tz,
        demand=demand,
    )


_CACHE: dict[tuple, tuple[list[RawSession], LoadReport]] = {}
_CACHE_LOCK = threading.Lock()  # the app's sessions run in threads


def read_journal(path: str | Path, tz: ZoneInfo = ACN_TZ) -> tuple[list[RawSession], LoadReport]:
    """Read the live site's journal as replay sessions.

    ``path`` is the live site's journal (``EV_STATE_DIR/journal.sqlite``, or the state folder
    holding it: :class:`engine.runtime.journal.Journal`), where an ended session has its real
    departure and its metered energy; or an older ``sessions.jsonl``, where each line is a booked kiosk session (:class:`engine.kiosk.BookedSession`): ``id``, ``cp``,
    ``arrival``, ``departure`` (announced), ``requested_kwh``. The journal knows no real
    departure and no delivered energy, so the announced departure is taken as the real one
    and the request is the need under both ``demand`` conventions. Naive times are read in
    ``tz``. Skipped lines are counted like CSV rows (a torn last line is ``unparseable``).

    Parameters
    ----------
    path : path
        The journal file.
    tz : ZoneInfo
        Site time zone for times without an offset.

    Returns
    -------
    sessions : list of RawSession
    report : LoadReport
    """
    path = Path(path)
    if not path.exists():
        raise ReplayError("--journal", f"no such file: {path}")
    if path.is_dir() or path.suffix == ".sqlite":
        return _read_sqlite_journal(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError("--journal", f"cannot read {path}: {exc}") from None
    report = LoadReport(files=[str(path)])
    skipped: Counter[str] = Counter()
    out: list[RawSession] = []
    seen: set[str] = set()
    limit = timedelta(hours=MAX_SESSION_HOURS)
    for line in lines:
        if not line.strip():
            continue
        report.rows_read += 1
        try:
            d = json.loads(line)
            sid = str(d["id"])
            cp = str(d["cp"])
            a = datetime.fromisoformat(str(d["arrival"]))
            e = datetime.fromisoformat(str(d["departure"]))
            req = float(d["requested_kwh"])
        except (ValueError, TypeError, KeyError):
            skipped["unparseable"] += 1
            continue
        a = a if a.tzinfo else a.replace(tzinfo=tz)
        e = e if e.tzinfo else e.replace(tzinfo=tz)
        if not math.isfinite(req) or req < 0:
            skipped["negative or NaN energy"] += 1
            continue
        if e <= a:
            skipped["departure <= arrival"] += 1
            continue
        if sid in seen:
            skipped["duplicate session_id"] += 1
            continue
        seen.add(sid)
        long = e - a > limit
        d_real = a + limit if long else e
        out.append(RawSession(session_id=sid, station_id=cp, arrival=a, departure=d_real, estimated_departure=e,
                              requested_kwh=req, delivered_kwh=req, claimed=True, clipped_24h=long))
    out.sort(key=lambda s: (s.arrival, s.session_id))
    report.rows_valid = len(out)
    report.skipped = dict(skipped)
    return out, report


def _read_sqlite_journal(path: Path) -> tuple[list[RawSession], LoadReport]:
    """The sessions of the live site's SQLite journal (see :func:`read_journal`)."""
    from engine.runtime.journal import JOURNAL_NAME, Journal, JournalError

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
    report = LoadReport(files=[str(folder / JOURNAL_NAME)])
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
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ReplayError("--start", f"not a date YYYY-MM-DD: {start!r}") from None
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
