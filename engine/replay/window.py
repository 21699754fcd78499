"""Put sessions on a replay window's step grid.

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

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

import numpy as np

from engine.replay.acn import ACN_TZ, LoadReport, RawSession
from engine.replay.options import window_options
from engine.replay.problem import ReplayError

__all__ = ["HISTORY_DAYS", "ReplayWindow", "select_window"]

UTC = ZoneInfo("UTC")
HISTORY_DAYS = 35
"""Days of sessions before a window kept as its history (forecasts use the last weeks)."""


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


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of ``day``, expressed in UTC (so differences count real hours)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def select_window(
    sessions: Iterable[RawSession],
    report: LoadReport,
    start: date | str,
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
    start : date or str
        First local day (``YYYY-MM-DD``).
    days : int
        Number of days, 1 to 366.
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

    Raises
    ------
    ReplayError
        A bad option, named (:func:`engine.replay.options.window_options`).
    """
    start, days, step_minutes, rated_kw, demand = window_options(start, days, step_minutes, rated_kw, demand)
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
