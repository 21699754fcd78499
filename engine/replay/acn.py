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
"""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from engine.replay.problem import ReplayError

__all__ = [
    "ACN_TZ",
    "DATA_DIR",
    "SITES",
    "MAX_SESSION_HOURS",
    "RawSession",
    "LoadReport",
    "default_paths",
    "read_sessions",
]

ACN_TZ = ZoneInfo("America/Los_Angeles")
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "acn"
SITES = ("caltech", "jpl")
MAX_SESSION_HOURS = 24.0
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
