"""The driver kiosk's domain: needs, quotes, bookings, progress.

A driver at a charge point says when they leave and how much energy they need (kWh, or battery
size + state of charge now + state of charge wanted). :meth:`Kiosk.quote` builds the scenario of
the charge point's group from now on (``engine.site_scenario``) with the sessions already booked
on that cabinet, each guaranteed what it was promised minus what it already received, and asks
``engine.quote`` whether the need can be met; if not, how much can be and from which departure
time on the whole need could be met. :meth:`Kiosk.book` records the session in the session book
(guaranteed min(request, quote)), re-plans the cabinet with ``engine.plan`` and returns the
charge points' statuses for the ledger. :meth:`Kiosk.progress` reads the plan at any time.

Session book, under the state folder (``EV_STATE_DIR``):

* ``sessions.jsonl`` - journal of accepted sessions, one JSON object a line, appended and fsynced
  (a torn last line after a crash is ignored);
* ``kiosk_plans.json`` - the latest plan segment of each session (written atomically): its start,
  step, the energy delivered before it [kWh] and the planned power per step [kW].

Time is the site's local time (``engine.clock.site_now``); every function takes ``now``.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import FieldError
from engine.files import atomic_write_text
from engine.ledger import Status, StatusReport
from engine.site import AssetKind
from engine.site_scenario import scenario_for_group
from engine.sitestore import SiteStore, state_dir

__all__ = [
    "KioskError",
    "energy_from_soc",
    "departure_at",
    "BookedSession",
    "KioskQuote",
    "Progress",
    "SessionBook",
    "Kiosk",
]

MAX_ENERGY_KWH = 200.0


class KioskError(FieldError):
    """A bad kiosk input; the message starts with the offending field (:class:`engine.errors.FieldError`)."""


def _num(value: Any, name: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise KioskError(name, f"must be a number, got {value!r}")
    x = float(value)
    if (x <= lo if lo_open else x < lo) or x > hi:
        raise KioskError(name, f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {x:g}")
    return x


def energy_from_soc(battery_kwh: float, soc_now_pct: float, soc_target_pct: float) -> float:
    """Energy a car needs to go from ``soc_now_pct`` to ``soc_target_pct`` [kWh].

    Parameters
    ----------
    battery_kwh : float
        Usable battery capacity [kWh], in (0, 200].
    soc_now_pct, soc_target_pct : float
        State of charge now and wanted [% of capacity], 0..100, target above now.
    """
    cap = _num(battery_kwh, "battery_kwh", 0.0, MAX_ENERGY_KWH, lo_open=True)
    now = _num(soc_now_pct, "soc_now_pct", 0.0, 100.0)
    target = _num(soc_target_pct, "soc_target_pct", 0.0, 100.0)
    if target <= now:
        raise KioskError("soc_target_pct", f"must be above the state of charge now ({now:g} %), got {target:g}")
    return cap * (target - now) / 100.0


def departure_at(now: datetime, clock_time: time) -> datetime:
    """The next moment the site's clock shows ``clock_time`` after ``now`` (today or tomorrow)."""
    t = now.replace(hour=clock_time.hour, minute=clock_time.minute, second=0, microsecond=0)
    return t if t > now else t + timedelta(days=1)


@dataclass(frozen=True)
class BookedSession:
    """An accepted kiosk session.

    Parameters
    ----------
    id : str
    cp : str
        Charge point id.
    cabinet : str
        Its cabinet when booked.
    arrival, departure : datetime
        Plug-in and announced departure (site local time).
    requested_kwh : float
        The driver's need [kWh].
    guaranteed_kwh : float
        What the site promised: min(request, quote) [kWh].
    battery_kwh, soc_now_pct, soc_target_pct : float or None
        Given when the driver entered battery size and SOC [kWh, %, %].
    """

    id: str
    cp: str
    cabinet: str
    arrival: datetime
    departure: datetime
    requested_kwh: float
    guaranteed_kwh: float
    battery_kwh: float | None = None
    soc_now_pct: float | None = None
    soc_target_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arrival"] = self.arrival.isoformat()
        d["departure"] = self.departure.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BookedSession":
        d = dict(d)
        d["arrival"] = datetime.fromisoformat(d["arrival"])
        d["departure"] = datetime.fromisoformat(d["departure"])
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})

    def active(self, now: datetime) -> bool:
        """Plugged in at ``now``."""
        return self.arrival <= now < self.departure


@dataclass(frozen=True)
class KioskQuote:
    """The kiosk's answer to a driver.

    Parameters
    ----------
    cp, cabinet : str
    now : datetime
        When the quote was made.
    departure : datetime
        The driver's departure.
    energy_kwh : float
        The driver's need [kWh].
    feasible : bool
        The whole need can be met by ``departure``.
    max_kwh : float
        The most the site can promise by ``departure`` (at most ``energy_kwh``) [kWh].
    earliest_departure : datetime or None
        The earliest departure at which the whole need could be met (None: not within the horizon).
    solve_seconds : float
        Engine time [s].
    """

    cp: str
    cabinet: str
    now: datetime
    departure: datetime
    energy_kwh: float
    feasible: bool
    max_kwh: float
    earliest_departure: datetime | None
    solve_seconds: float


@dataclass(frozen=True)
class Progress:
    """Where a session stands at ``now`` according to the latest plan.

    Parameters
    ----------
    session : BookedSession
    now : datetime
    delivered_kwh : float
        Energy delivered so far [kWh].
    power_kw : float
        Planned power now [kW].
    soc_pct : float or None
        State of charge now [%] (when the battery size is known).
    status : Status
        OCPP status of the charge point.
    times : list of datetime
        Step boundaries of the planned energy curve.
    energy_kwh : list of float
        Planned cumulative energy at ``times`` [kWh].
    """

    session: BookedSession
    now: datetime
    delivered_kwh: float
    power_kw: float
    soc_pct: float | None
    status: Status
    times: list[datetime] = field(default_factory=list)
    energy_kwh: list[float] = field(default_factory=list)

    @property
    def soc_curve_pct(self) -> list[float] | None:
        """Planned state of charge at ``times`` [%] (None without a battery size)."""
        s = self.session
        if not s.battery_kwh or s.soc_now_pct is None:
            return None
        return [min(100.0, s.soc_now_pct + 100.0 * e / s.battery_kwh) for e in self.energy_kwh]


class SessionBook:
    """The journal of accepted kiosk sessions and their latest plan segments (thread-safe)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else state_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.journal = self.folder / "sessions.jsonl"
        self.plans_path = self.folder / "kiosk_plans.json"
        self.lock = threading.RLock()

    def sessions(self) -> list[BookedSession]:
        """Every accepted session, in booking order (a torn last line is skipped)."""
        with self.lock:
            if not self.journal.exists():
                return []
            out = []
            for line in self.journal.read_text().splitlines():
                try:
                    out.append(BookedSession.from_dict(json.loads(line)))
                except (ValueError, TypeError, KeyError):
                    continue
            return out

    def append(self, session: BookedSession) -> None:
        """Journal one accepted session (fsynced before returning)."""
        with self.lock:
            with open(self.journal, "a") as f:
                f.write(json.dumps(session.to_dict()) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def plans(self) -> dict[str, dict[str, Any]]:
        """Session id -> {start, step_minutes, base_kwh, power_kw}."""
        with self.lock:
            if not self.plans_path.exists():
                return {}
            try:
                return json.loads(self.plans_path.read_text())
            except ValueError:
                return {}

    def save_plans(self, segments: dict[str, dict[str, Any]]) -> None:
        """Replace the plan segments of these sessions (atomic write)."""
        with self.lock:
            plans = self.plans()
            plans.update(segments)
            atomic_write_text(self.plans_path, json.dumps(plans))


def _delivered(seg: dict[str, Any] | None, t: datetime) -> tuple[float, float]:
    """(energy delivered by ``t`` [kWh], power at ``t`` [kW]) under a plan segment."""
    if not seg:
        return 0.0, 0.0
    start = datetime.fromisoformat(seg["start"])
    dt_h = seg["step_minutes"] / 60.0
    p = np.asarray(seg["power_kw"], float)
    x = (t - start).total_seconds() / 3600.0 / dt_h  # steps elapsed
    if x < 0:
        return float(seg["base_kwh"]), 0.0
    k = min(int(x), len(p))
    e = seg["base_kwh"] + float(p[:k].sum()) * dt_h
    power = 0.0
    if k < len(p):
        e += float(p[k]) * (x - k) * dt_h
        power = float(p[k])
    return e, power


class Kiosk:
    """Quotes and bookings of the driver kiosk over the live site.

    Parameters
    ----------
    store : SiteStore
        The live site (groups are derived from its saved state).
    book : SessionBook
    step_minutes : int
        Step of the kiosk's plans [min].
    horizon_hours : int
        How far ahead a driver may announce a departure [h].
    """

    def __init__(self, store: SiteStore, book: SessionBook, *, step_minutes: int = 15, horizon_hours: int = 24) -> None:
        self.store = store
        self.book_ = book
        self.step_minutes = step_minutes
        self.horizon_steps = horizon_hours * 60 // step_minutes
        self._lock = threading.RLock()

    # -- reading ---------------------------------------------------------------------------
    def session_on(self, cp: str, now: datetime) -> BookedSession | None:
        """The session plugged in at ``cp`` at ``now``, if any."""
        for s in reversed(self.book_.sessions()):
            if s.cp == cp and s.active(now):
                return s
        return None

    def session(self, session_id: str) -> BookedSession:
        for s in self.book_.sessions():
            if s.id == session_id:
                return s
        raise KioskError("session", f"unknown session {session_id!r}")

    def progress(self, session_id: str, now: datetime) -> Progress:
        """Delivered energy, SOC and the planned energy curve of a session at ``now``."""
        s = self.session(session_id)
        seg = self.book_.plans().get(s.id)
        t = min(now, s.departure)
        delivered, power = _delivered(seg, t)
        if now >= s.departure:
            power = 0.0
        times, energy = [s.arrival], [0.0]
        if seg:
            start = datetime.fromisoformat(seg["start"])
            dt = timedelta(minutes=seg["step_minutes"])
            cum = seg["base_kwh"] + np.concatenate([[0.0], np.cumsum(seg["power_kw"]) * dt.total_seconds() / 3600])
            for k, e in enumerate(cum):
                tk = start + k * dt
                if tk > s.departure:
                    break
                if tk >= s.arrival:
                    times.append(tk)
                    energy.append(float(e))
        soc = None
        if s.battery_kwh and s.soc_now_pct is not None:
            soc = min(100.0, s.soc_now_pct + 100.0 * delivered / s.battery_kwh)
        return Progress(s, now, delivered, power, soc, self._status(s, delivered, power, now), times, energy)

    @staticmethod
    def _status(s: BookedSession, delivered: float, power: float, now: datetime) -> Status:
        if not s.active(now):
            return Status.AVAILABLE
        if power > 1e-3:
            return Status.CHARGING
        if delivered <= 1e-6:
            return Status.PREPARING
        if delivered < s.guaranteed_kwh - 1e-3:
            return Status.SUSPENDED_EVSE
        return Status.FINISHING

    def statuses(self, cabinet: str, now: datetime) -> list[StatusReport]:
        """Status of every charge point of ``cabinet`` that has a session in the book, at ``now``."""
        site = self.store.site()
        cps = {a.id for a in site.charge_points if a.cabinet == cabinet}
        plans = self.book_.plans()
        latest: dict[str, BookedSession] = {}
        for s in self.book_.sessions():
            if s.cp in cps and s.arrival <= now:
                latest[s.cp] = s
        out = []
        for cp, s in sorted(latest.items()):
            if s.active(now):
                e, p = _delivered(plans.get(s.id), now)
                out.append(StatusReport(cp, self._status(s, e, p, now), round(p, 3), round(e, 3)))
            else:
                out.append(StatusReport(cp, Status.AVAILABLE, 0.0, 0.0))
        return out

    def status_changes(self, now: datetime, on_chain: dict[str, StatusReport | None]) -> list[StatusReport]:
        """Statuses at ``now`` of the charge points with kiosk sessions that differ from ``on_chain``.

        Parameters
        ----------
        now : datetime
            The site's clock.
        on_chain : dict
            Charge point id -> its last status on chain (None: never posted).

        Returns
        -------
        list of StatusReport
            What to post so the chain shows the plan at ``now`` (status changed, or power by
            more than 0.05 kW).
        """
        site = self.store.site()
        out = []
        for cabinet in sorted({a.cabinet for a in site.charge_points}):
            for r in self.statuses(cabinet, now):
                cur = on_chain.get(r.asset_id)
                if cur is None and r.status == Status.AVAILABLE:
                    continue
                if cur is None or cur.status != r.status or abs(cur.power_kw - r.power_kw) > 0.05:
                    out.append(r)
        return out

    def cps_with_sessions(self) -> list[str]:
        """Charge points that ever had a kiosk session (their status is the kiosk's to keep)."""
        return sorted({s.cp for s in self.book_.sessions()})

    # -- quoting and booking -----------------------------------------------------------------
    def _check(self, cp: str, departure: datetime, energy_kwh: float, now: datetime):
        site = self.store.site()
        try:
            asset = site.asset(cp)
        except KeyError:
            raise KioskError("cp", f"unknown charge point {cp!r}") from None
        if asset.kind != AssetKind.CHARGE_POINT:
            raise KioskError("cp", f"{cp!r} is a {asset.kind.label}, not a charge point")
        energy = _num(energy_kwh, "energy_kwh", 0.0, MAX_ENERGY_KWH, lo_open=True)
        if not isinstance(departure, datetime):
            raise KioskError("departure", f"must be a time, got {departure!r}")
        start = now.replace(second=0, microsecond=0)  # plans start at the booking minute
        dt = timedelta(minutes=self.step_minutes)
        if departure < now + dt:
            raise KioskError("departure", f"must be at least {self.step_minutes} min from now")
        if departure > start + self.horizon_steps * dt:
            raise KioskError("departure", f"must be within {self.horizon_steps * self.step_minutes // 60} h")
        busy = self.session_on(cp, now)
        if busy is not None:
            raise KioskError("cp", f"{cp} is in use until {busy.departure:%H:%M}")
        return site, asset, energy, start, dt

    def _scenario(self, site, cabinet: str, start: datetime, now: datetime, extra=()):
        from engine.scenario import SessionSpec

        plans = self.book_.plans()
        specs, active = [], []
        dt = timedelta(minutes=self.step_minutes)
        cps = {a.id for a in site.charge_points if a.cabinet == cabinet}
        for s in self.book_.sessions():
            if s.cp not in cps or not s.active(now):
                continue
            base, _ = _delivered(plans.get(s.id), start)
            dep = min(self.horizon_steps, math.floor((s.departure - start) / dt))
            active.append((s, base))
            remaining = max(0.0, s.guaranteed_kwh - base)
            if remaining > 1e-6 and dep >= 1:
                specs.append(SessionSpec(id=s.id, cp=s.cp, arrival_step=0, departure_step=dep,
                                         energy_kwh=remaining, guaranteed=True))
        scen = scenario_for_group(site, cabinet, start=start, horizon_steps=self.horizon_steps,
                                  step_minutes=self.step_minutes, sessions=[*specs, *extra])
        return scen, active

    def _request(self, cp: str, start: datetime, departure: datetime, energy: float, dt: timedelta, sid: str):
        from engine.scenario import SessionSpec

        dep = min(self.horizon_steps, math.floor((departure - start) / dt))
        return SessionSpec(id=sid, cp=cp, arrival_step=0, departure_step=max(dep, 1), energy_kwh=energy)

    def quote(self, cp: str, departure: datetime, energy_kwh: float, now: datetime) -> KioskQuote:
        """May this driver's need be met? (no booking is made)

        Parameters
        ----------
        cp : str
            Charge point id.
        departure : datetime
            When the driver leaves (site local time), within the horizon.
        energy_kwh : float
            The need [kWh], in (0, 200].
        now : datetime
            The site's clock.

        Raises
        ------
        KioskError
            Naming the bad field (``cp``, ``departure``, ``energy_kwh``).
        """
        import engine

        with self._lock:
            site, asset, energy, start, dt = self._check(cp, departure, energy_kwh, now)
            scen, _ = self._scenario(site, asset.cabinet, start, now)
            req = self._request(cp, start, departure, energy, dt, "request")
            q = engine.quote(scen, req)
            eds = q.earliest_departure_step
            earliest = None if eds is None else max(start + eds * dt, now)
            return KioskQuote(cp=cp, cabinet=asset.cabinet, now=now, departure=departure, energy_kwh=energy,
                              feasible=bool(q.feasible), max_kwh=float(q.max_kwh), earliest_departure=earliest,
                              solve_seconds=float(q.solve_seconds))

    def book(
        self,
        cp: str,
        departure: datetime,
        energy_kwh: float,
        now: datetime,
        *,
        battery_kwh: float | None = None,
        soc_now_pct: float | None = None,
        soc_target_pct: float | None = None,
    ) -> tuple[BookedSession, KioskQuote, list[StatusReport]]:
        """Quote again, book the session with guarantee min(request, quote), re-plan its cabinet.

        Returns
        -------
        (session, quote, statuses)
            The booked session, the quote it was booked on, and the statuses of the cabinet's
            charge points with sessions (to post on chain).

        Raises
        ------
        KioskError
            On bad input, or ``energy_kwh`` when nothing at all can be delivered by ``departure``.
        """
        import engine

        with self._lock, self.book_.lock:
            q = self.quote(cp, departure, energy_kwh, now)
            if q.max_kwh <= 1e-6:
                raise KioskError("energy_kwh", f"nothing can be delivered at {cp} before {departure:%H:%M}")
            guaranteed = min(q.energy_kwh, q.max_kwh)
            sid = f"{cp}@{now:%Y%m%dT%H%M%S}"
            s = BookedSession(id=sid, cp=cp, cabinet=q.cabinet, arrival=now, departure=departure,
                              requested_kwh=q.energy_kwh, guaranteed_kwh=round(guaranteed, 6),
                              battery_kwh=battery_kwh, soc_now_pct=soc_now_pct, soc_target_pct=soc_target_pct)
            site, _, _, start, _ = self._check(cp, departure, energy_kwh, now)
            self.book_.append(s)
            scen, active = self._scenario(site, q.cabinet, start, now)  # the book now holds s too
            plan = engine.plan(engine.validate_scenario(scen))
            powers = {d["id"]: [float(x) for x in d["power_kw"]] for d in plan.to_dict()["sessions"]}
            zeros = [0.0] * self.horizon_steps
            self.book_.save_plans({
                sess.id: {"start": start.isoformat(), "step_minutes": self.step_minutes, "base_kwh": base,
                          "power_kw": powers.get(sess.id, zeros)}
                for sess, base in active
            })
            return s, q, self.statuses(q.cabinet, now)
