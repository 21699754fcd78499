"""A headless day: a real day's ACN arrivals through the whole live stack at full speed.

Each real session of the day on one of the site's charge points (Caltech space ids are the
sample site's EVSE ids) becomes a driver who asks at the kiosk (the same quote-and-book path,
:class:`engine.kiosk.Kiosk`) for their real requested kWh by their own stated departure, plugs
in a simulated car (:mod:`engine.runtime.cars`), and leaves at their real departure. The runtime
(:class:`engine.runtime.site_runtime.SiteRuntime`) meters, re-plans, applies limits and queues
statuses; the outbox posts them to the embedded chain. ``--chain-outage HH:MM-HH:MM`` refuses
every chain call in that window of site time.

Cars: a seeded random battery (40-100 kWh) and on-board charger (7.2 or 11 kW, or 6.6 kW), with
a state of charge on arrival such that the driver's request ends between 60 and 95 % (so many
cars taper while they charge).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from engine.chargers import make_chargers
from engine.errors import FieldError
from engine.kiosk import Kiosk, KioskError
from engine.ledger import LedgerError, LedgerPort, connect_ledger
from engine.replay.acn import read_sessions
from engine.replay.kpi import session_met
from engine.runtime.cars import Car
from engine.runtime.clock import SteppableClock
from engine.runtime.journal import Journal
from engine.runtime.site_runtime import SiteRuntime
from engine.site.model import Site
from engine.timezone import site_tz

__all__ = ["HeadlessError", "DayDriver", "Arrival", "OutageLedger", "run_day", "parse_outage", "arrivals_for_day"]


class HeadlessError(FieldError):
    """A bad headless option (names it, e.g. ``--day``)."""


@dataclass(frozen=True)
class Arrival:
    """One driver of the day.

    Parameters
    ----------
    id : str
    cp : str
    arrival, departure, stated_departure : datetime
        Plug-in, real departure and the departure the driver stated (site local time).
    requested_kwh : float
        What the driver asks for [kWh].
    """

    id: str
    cp: str
    arrival: datetime
    departure: datetime
    stated_departure: datetime
    requested_kwh: float


def parse_outage(text: str | None, day: date, tz) -> tuple[datetime, datetime] | None:
    """``HH:MM-HH:MM`` on ``day`` (site time) -> (start, end)."""
    if not text:
        return None
    try:
        a, b = text.split("-")
        h1, m1 = (int(x) for x in a.split(":"))
        h2, m2 = (int(x) for x in b.split(":"))
        t1 = datetime(day.year, day.month, day.day, h1, m1, tzinfo=tz)
        t2 = datetime(day.year, day.month, day.day, h2, m2, tzinfo=tz)
    except ValueError:
        raise HeadlessError("--chain-outage", f"must be HH:MM-HH:MM, got {text!r}") from None
    if t2 <= t1:
        raise HeadlessError("--chain-outage", f"must end after it starts, got {text!r}")
    return t1, t2


class OutageLedger:
    """A ledger that refuses every call while the site clock is inside an outage window."""

    def __init__(self, inner: LedgerPort, now: Callable[[], datetime], window: tuple[datetime, datetime] | None):
        self.inner = inner
        self.now = now
        self.window = window
        self.refused = 0

    def _check(self) -> None:
        if self.window is not None and self.window[0] <= self.now() < self.window[1]:
            self.refused += 1
            raise LedgerError("chain does not answer (simulated outage)")

    def sign_statuses(self, reports):
        self._check()
        return self.inner.sign_statuses(reports)

    def settle(self, write):
        self._check()
        return self.inner.settle(write)

    def head(self) -> int:
        self._check()
        return self.inner.head()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def arrivals_for_day(site: Site, day: date, sessions_paths: Sequence[str] | None = None) -> list[Arrival]:
    """The day's real ACN sessions on the site's charge points (site local day)."""
    tz = site_tz(site.timezone)
    raw, _ = read_sessions(sessions_paths)
    cps = {a.id for a in site.charge_points}
    out = []
    for r in raw:
        a = r.arrival.astimezone(tz)
        if a.date() != day or r.station_id not in cps:
            continue
        dep = r.departure.astimezone(tz)
        stated = r.estimated_departure.astimezone(tz)
        kwh = float(r.requested_kwh if r.claimed and r.requested_kwh > 0 else r.delivered_kwh)
        if kwh < 0.1:
            continue
        out.append(Arrival(r.session_id, r.station_id, a.replace(microsecond=0), dep.replace(microsecond=0),
                           stated.replace(microsecond=0), round(kwh, 3)))
    return out


def make_car(a: Arrival, rng: random.Random) -> Car:
    """A simulated car for an arrival (see the module doc)."""
    battery = rng.choice([40.0, 60.0, 60.0, 75.0, 75.0, 100.0])
    battery = max(battery, a.requested_kwh / 0.9)
    end = rng.uniform(60.0, 95.0)
    soc = end - 100.0 * a.requested_kwh / battery
    if soc < 5.0:
        soc = 5.0
    max_kw = rng.choice([7.2, 7.2, 7.2, 11.0, 11.0, 6.6])
    return Car(id=a.id, battery_kwh=battery, soc_pct=round(soc, 2), max_kw=max_kw, departs_at=a.departure)


class DayDriver:
    """Drives one day: arrivals ask, book and plug in; the clock steps; the outbox posts.

    Parameters
    ----------
    site : Site
    day : date
    state : Path
        State folder (journal, chain).
    ledger : LedgerPort or None
    chargers : str
        Charger port name (``sim``; ``ocpp`` when the gateway is installed).
    outage : (datetime, datetime) or None
    seed : int
    progress : callable or None
        ``progress(message)`` for each simulated hour.
    """

    def __init__(self, site: Site, day: date, state: Path, ledger: LedgerPort | None, *, chargers: str = "sim",
                 outage: tuple[datetime, datetime] | None = None, seed: int = 0,
                 arrivals: list[Arrival] | None = None, progress: Callable[[str], None] | None = None,
                 step_minutes: int = 5, charger_options: dict[str, Any] | None = None) -> None:
        self.site = site
        self.day = day
        self.tz = site_tz(site.timezone)
        self.start = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        self.clock = SteppableClock(self.start)
        self.arrivals = arrivals if arrivals is not None else arrivals_for_day(site, day)
        self.outage = outage
        self.ledger = OutageLedger(ledger, self.clock.now, outage) if ledger is not None else None
        self.journal = Journal(state)
        opts = dict(charger_options or {})
        if chargers == "ocpp":  # the CSMS and its simulated charge points on loopback, any free port
            opts = {"simulate": True, "port": 0, "state_dir": state, **opts}
        state_json = self.journal.get_meta("sim_state") if chargers == "sim" else None
        self.chargers = make_chargers(chargers, site=site, state=state_json, clock=self.clock.now, **opts)
        self.runtime = SiteRuntime(lambda: site, self.journal, self.chargers, self.clock, self.ledger,
                                   step_minutes=step_minutes)
        self.kiosk = Kiosk(self.runtime)
        self.rng = random.Random(seed)
        self.progress = progress
        self.booked: dict[str, str] = {}  # arrival id -> session id
        self.refused: dict[str, str] = {}
        self.delivered_at_stated: dict[str, float] = {}
        self.step = timedelta(minutes=step_minutes)

    def timeline(self) -> list[tuple[datetime, int, Any]]:
        """(time, order, what) of every arrival and stated departure, sorted."""
        ev: list[tuple[datetime, int, Any]] = []
        for a in self.arrivals:
            ev.append((a.arrival, 1, a))
            ev.append((self._stated(a), 0, ("stated", a)))
        return sorted(ev, key=lambda x: (x[0], x[1], getattr(x[2], "id", "")))

    def _stated(self, a: Arrival) -> datetime:
        """The departure the driver states at the kiosk (within what the kiosk accepts)."""
        lo = a.arrival + timedelta(minutes=10)
        hi = a.arrival + timedelta(hours=23, minutes=55)
        return min(max(a.stated_departure, lo), hi)

    def _arrive(self, a: Arrival, now: datetime) -> None:
        try:
            s, q = self.kiosk.book(a.cp, self._stated(a), a.requested_kwh, now, origin="headless", session_id=a.id)
        except KioskError as exc:
            self.refused[a.id] = str(exc)
            return
        self.booked[a.id] = s.id
        self.chargers.plug(a.cp, make_car(a, self.rng), now)

    def run(self, until: datetime | None = None) -> None:
        """Step the day (or until ``until``)."""
        end = until or max([self.start + timedelta(days=1)] + [a.departure + self.step for a in self.arrivals])
        if self.outage is not None:
            end = max(end, self.outage[1] + self.step)
        timeline = [e for e in self.timeline() if e[0] >= self.clock.now()]
        t = self.clock.now()
        nxt = self.start + (((t - self.start) // self.step) + 1) * self.step
        i = 0
        last_hour = None
        self.runtime.tick(t)
        while t < end:
            te = timeline[i][0] if i < len(timeline) else None
            t = min(nxt, te) if te is not None else nxt
            self.clock.set(t)
            self.runtime.tick(t)
            while i < len(timeline) and timeline[i][0] <= t:
                _, _, what = timeline[i]
                if isinstance(what, Arrival):
                    self._arrive(what, t)
                    self.runtime.tick(t)
                else:
                    a = what[1]
                    sid = self.booked.get(a.id)
                    if sid is not None:
                        car = self.runtime.cars.get(a.cp)
                        s = self.journal.session(sid)
                        if car is not None and car.session.id == sid:
                            self.delivered_at_stated[sid] = car.delivered_kwh
                        elif s is not None:
                            self.delivered_at_stated[sid] = s.delivered_kwh
                i += 1
            if t >= nxt:
                nxt += self.step
            self.runtime.flush()
            if self.progress is not None and (last_hour is None or t.hour != last_hour):
                last_hour = t.hour
                st = self.journal.outbox_stats()
                self.progress(f"{t:%H:%M} sessions {len(self.booked)} open {len(self.runtime.cars)} "
                              f"replans {self.runtime.replans} outbox pending {st['pending']}")
        # the chain answers again: drain the outbox
        for _ in range(50):
            res = self.runtime.flush()
            if res.pending == 0 and not self.journal.unsettled():
                break

    def figures(self, wall_seconds: float) -> dict[str, Any]:
        """The day's figures (see the CLI)."""
        promises = met = 0
        for a in self.arrivals:
            sid = self.booked.get(a.id)
            if sid is None:
                continue
            s = self.journal.session(sid)
            if s is None or s.guaranteed_kwh <= 1e-6:
                continue
            if a.departure < self._stated(a):
                continue  # left before the departure they stated: no promise to keep
            promises += 1
            got = self.delivered_at_stated.get(sid, s.delivered_kwh)
            if got >= s.guaranteed_kwh - 0.01:
                met += 1
        # drivers whose car got what they asked (as the replay counts them), promised or not
        asked, got = [], []
        for a in self.arrivals:
            sid = self.booked.get(a.id)
            s = self.journal.session(sid) if sid is not None else None
            asked.append(a.requested_kwh)
            got.append(s.delivered_kwh if s is not None else 0.0)
        demands = int(session_met(np.asarray(asked, float), np.asarray(got, float)).sum()) if asked else 0
        ob = self.journal.outbox_stats()
        lost, dup = self._chain_check(ob)
        n_cp = max(1, len(self.site.charge_points))
        days = max(1.0, (self.clock.now() - self.start).total_seconds() / 86400.0)
        ms = self.runtime.replan_ms
        return {
            "day": self.day.isoformat(),
            "sessions": len(self.arrivals),
            "booked": len(self.booked),
            "refused": len(self.refused),
            "promises": promises,
            "promises_met": met,
            "demands_met": demands,
            "promised_kwh": round(sum(self.journal.session(s).guaranteed_kwh for s in self.booked.values()), 3),
            "delivered_kwh": round(sum(self.journal.session(s).delivered_kwh for s in self.booked.values()), 3),
            "requested_kwh": round(sum(a.requested_kwh for a in self.arrivals), 3),
            "overload_kwh": round(sum(self.runtime.overload_kwh.values()), 6),
            "statuses_queued": ob["queued"],
            "statuses_posted": ob["mined"],
            "statuses_lost": lost,
            "statuses_duplicated": dup,
            "chain_transactions": ob["transactions"],
            "chain_calls_refused": self.ledger.refused if self.ledger is not None else 0,
            "gas_per_cp_day": round(ob["gas"] / n_cp / days),
            "replans": self.runtime.replans,
            "replan_ms_median": round(statistics.median(ms), 2) if ms else 0.0,
            "replan_ms_max": round(max(ms), 2) if ms else 0.0,
            "wall_seconds": round(wall_seconds, 2),
            **({"ocpp_messages": getattr(self.chargers, "ocpp_messages"), "ocpp_errors": getattr(self.chargers, "ocpp_errors")}
               if hasattr(self.chargers, "ocpp_messages") else {}),
        }

    def _chain_check(self, ob: dict[str, int]) -> tuple[int, int]:
        """(statuses lost, statuses duplicated), checked against the chain's own events."""
        lost = ob["queued"] - ob["mined"]
        if self.ledger is None:
            return lost, 0
        history = getattr(self.ledger.inner, "status_history", None)
        if not callable(history):
            return lost, 0
        events = history()
        on_chain: dict[tuple, int] = {}
        for e in events:
            k = (e.asset_id, int(e.status), round(e.power_kw, 3), round(e.energy_kwh, 3))
            on_chain[k] = on_chain.get(k, 0) + 1
        want: dict[tuple, int] = {}
        for r in self.journal.mined_rows():
            rep = r.report
            k = (rep.asset_id, int(rep.status), round(rep.power_kw, 3), round(rep.energy_kwh, 3))
            want[k] = want.get(k, 0) + 1
        missing = sum(max(0, n - on_chain.get(k, 0)) for k, n in want.items())
        dup = sum(max(0, n - want.get(k, 0)) for k, n in on_chain.items())
        return lost + missing, dup


def run_day(site: Site, day: date, *, state: Path | None = None, chain: bool = True, chargers: str = "sim",
            outage: str | None = None, seed: int = 0, progress: Callable[[str], None] | None = None,
            arrivals: list[Arrival] | None = None) -> dict[str, Any]:
    """Run a headless day and return its figures (see :class:`DayDriver`)."""
    t0 = time.perf_counter()
    tz = site_tz(site.timezone)
    window = parse_outage(outage, day, tz)
    folder = Path(state) if state is not None else Path(tempfile.mkdtemp(prefix="ev-headless-"))
    ledger = None
    if chain:
        if progress:
            progress("starting the embedded chain and registering the site")
        ledger = connect_ledger(rpc_url="", state_dir=folder / "chain-state")
        ledger.sync_site(site)
    drv = DayDriver(site, day, folder, ledger, chargers=chargers, outage=window, seed=seed, arrivals=arrivals,
                    progress=progress)
    if not drv.arrivals:
        raise HeadlessError("--day", f"no sessions of the site's charge points on {day.isoformat()}")
    try:
        drv.run()
    finally:
        drv.chargers.close()
    return drv.figures(time.perf_counter() - t0)
