"""The live site: one control loop that meters, re-plans, sets every charge point's power and
reports to the chain.

:class:`SiteRuntime` owns, for one site, the journal (:mod:`engine.runtime.journal`), the
charger port (:mod:`engine.chargers`), the clock and the outbox to SC2
(:mod:`engine.runtime.telemetry`). Each :meth:`SiteRuntime.tick`:

1. reads every charge point (status, power, energy, SOC) and drains their events (plug-in,
   unplug, fault, recovery, non-compliance), journaling both;
2. updates each open session from what was *measured*, learns a car's own power limit when it
   draws less than its limit (taper above ~80 % SOC, a small on-board charger), and marks a
   charge point that draws more than its limit as uncontrolled (planned as other load);
3. re-plans the cabinets that need it through the control loop (:class:`engine.runtime.loop.ControlLoop`,
   the one the replay's ``mpc`` runs too): on every event, a booking, a threshold change, a car
   off its plan by more than ``DRIFT_KWH``, a learned limit (all marked here), the end of a
   plan, a car past its stated departure or a promise that ended with need left (the loop's own);
4. caps the limits so that the cabinet's measured import stays under its threshold (the guard)
   and applies them;
5. queues statuses for SC2 (dead-band, changes, heartbeat) and records the cabinets' loads.

In the app, :meth:`start` runs the loop and the outbox in two background threads (the outbox
never blocks the loop on a slow chain); headless days call :meth:`tick` and :meth:`flush`
themselves. A restart rebuilds everything from the journal: open sessions, promises, the
simulated cars, the battery's energy.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import numpy as np

from engine.chargers import (
    ChargerEvent,
    ChargerPort,
    ChargerReading,
    EventKind,
    Setpoint,
)
from engine.ledger import LedgerPort, Status, StatusReport
from engine.promises.forecast import PastSession
from engine.promises.stay import HISTORY_DAYS, StayModel
from engine.runtime.cars import Car
from engine.runtime.clock import Clock
from engine.runtime.controller import CarState, Decision, guard
from engine.runtime.journal import Journal, SessionRecord
from engine.runtime.loop import ControlLoop, site_scenario
from engine.runtime.telemetry import FlushResult, Outbox, status_changes
from engine.site.model import Site
from engine.site.profiles import asset_profile_kw

__all__ = ["SiteRuntime", "TickReport", "DRIFT_KWH"]

log = logging.getLogger(__name__)

DRIFT_KWH = 0.1  # a car this far off its plan is re-planned [kWh]
LIMITED_KW = 0.25  # a car drawing this much below its limit is car-limited [kW]
NONCOMPLIANT_KW = 0.3  # drawing this much above the limit is not following it [kW]
UNBOOKED_NEED_KWH = 30.0  # a car plugged in without a booking: best effort up to this [kWh]
UNBOOKED_STAY = timedelta(hours=8)


@dataclass
class TickReport:
    """What one tick did."""

    now: datetime
    replanned: list[str] = field(default_factory=list)
    replan_ms: list[float] = field(default_factory=list)
    events: int = 0
    queued: int = 0
    guarded: list[str] = field(default_factory=list)


class SiteRuntime:
    """The control loop of one site.

    Parameters
    ----------
    site : callable
        Returns the current :class:`Site` (e.g. ``SiteStore.site``): thresholds and groups are
        read at every tick.
    journal : Journal
    chargers : ChargerPort
    clock : Clock
    ledger : LedgerPort or None
        Where statuses go (None: kept in the journal's outbox).
    step_minutes : int
        Planning step [min].
    """

    def __init__(
        self,
        site: Callable[[], Site],
        journal: Journal,
        chargers: ChargerPort,
        clock: Clock,
        ledger: LedgerPort | None = None,
        *,
        step_minutes: int = 5,
        plug_on_booking: bool = False,
    ) -> None:
        self.site_of = site
        self.journal = journal
        self.chargers = chargers
        self.clock = clock
        self.outbox = Outbox(journal, ledger)
        self.step_minutes = int(step_minutes)
        self.plug_on_booking = bool(plug_on_booking)
        self.lock = threading.RLock()
        self.cars: dict[str, CarState] = {}  # by charge point
        self.loop = ControlLoop(self.step_minutes)
        self.applied: dict[str, Setpoint] = {}
        self.readings: dict[str, ChargerReading] = {}
        self.battery_kwh: dict[str, float] = dict(journal.get_meta("battery_kwh", {}) or {})
        self.pv_today: dict[str, list] = dict(journal.get_meta("pv_today", {}) or {})
        self.replans = 0
        self.replan_ms: list[float] = []
        self.overload_kwh: dict[str, float] = {}
        self.last_tick: datetime | None = None
        self.last_flush: FlushResult | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stays: tuple[Any, StayModel] | None = None  # (local day, model learned from the days before)
        self._resume()

    @property
    def decisions(self) -> dict[str, Decision]:
        """Cabinet -> its current plan turned into setpoints (the control loop's)."""
        return self.loop.decisions

    @property
    def dirty(self) -> set[str]:
        """Cabinets marked for a re-plan at the next tick (the control loop's)."""
        return self.loop.dirty

    # -- start-up ---------------------------------------------------------------------------------
    def _resume(self) -> None:
        """Open sessions and promises from the journal; every cabinet with one is re-planned.

        With simulated cars (``plug_on_booking``), a booking whose car the simulator does not
        have (the process died after the booking, before its next tick kept the simulator's
        state), which has not charged yet and whose driver has not left, gets its car back:
        otherwise it would be ended as gone with its promise broken.
        """
        site = self.site_of()
        cps = {a.id: a for a in site.charge_points}
        plug = getattr(self.chargers, "plug", None)
        car_at = getattr(self.chargers, "car", lambda cp: None)
        now = self.clock.now()
        for s in self.journal.sessions(open_only=True):
            if s.cp not in cps:
                continue
            self.cars[s.cp] = CarState(s, delivered_kwh=s.delivered_kwh, rated_kw=float(cps[s.cp].rated_kw),
                                       likely_departure=self.likely_departure(s, now))
            self.dirty.add(cps[s.cp].cabinet)
            if (self.plug_on_booking and callable(plug) and s.origin == "kiosk" and s.delivered_kwh <= 0.0
                    and s.departure > now and car_at(s.cp) is None):
                plug(s.cp, car_for_session(s), s.arrival)
        last = self.journal.get_meta("last_tick")
        if last:
            self.last_tick = datetime.fromisoformat(last)

    # -- commands (from pages, the kiosk, a headless driver) ----------------------------------------
    def session_started(self, s: SessionRecord) -> None:
        """A booked session is in the journal: plan it now."""
        with self.lock:
            prev = self.cars.get(s.cp)
            delivered = prev.delivered_kwh if prev is not None and prev.session.id == s.id else 0.0
            self.cars[s.cp] = CarState(s, delivered_kwh=delivered,
                                       rated_kw=float(self.site_of().asset(s.cp).rated_kw),
                                       likely_departure=self.likely_departure(s))
            self.dirty.add(self._cabinet_of(s.cp))
            plug = getattr(self.chargers, "plug", None)
            if self.plug_on_booking and callable(plug) and getattr(self.chargers, "car", lambda cp: None)(s.cp) is None:
                plug(s.cp, car_for_session(s), s.arrival)
        self._wake.set()

    def stop_session(self, cp: str) -> None:
        """The driver pressed Stop: end the transaction at ``cp``."""
        with self.lock:
            self.chargers.stop(cp)
            self.tick()  # the session ends in the journal before the driver's page redraws

    def replan(self, cabinet: str | None = None) -> None:
        """Ask for a re-plan of ``cabinet`` (None: all) at the next tick (e.g. a new threshold)."""
        with self.lock:
            if cabinet is None:
                self.dirty.update(c.id for c in self.site_of().cabinets)
            else:
                self.dirty.add(cabinet)
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        """One control step at ``now`` (default: the clock)."""
        with self.lock, self.journal.transaction():  # one commit per tick
            now = now or self.clock.now()
            site = self.site_of()
            rep = TickReport(now)
            prev_tick = self.last_tick
            readings = self.chargers.read(now)
            events = self.chargers.events()
            rep.events = len(events)
            self._handle_events(site, events, readings, now)
            self._measure(site, readings, now)
            self._account(site, readings, prev_tick, now)
            self._replan(site, now, rep)
            self._apply(site, now, rep)
            rep.queued = self._telemetry(site, readings, now)
            self.readings = readings
            self.last_tick = now
            self._persist(now)
            return rep

    def likely_departure(self, s: SessionRecord, now: datetime | None = None) -> datetime | None:
        """When the car of ``s`` is likely to leave, for planning only: for a booked car promised
        nothing, its stated departure plus the overstay the site's history gives for such drivers
        (:class:`engine.promises.stay.StayModel`, learned from the journal's ended sessions of the
        last :data:`~engine.promises.stay.HISTORY_DAYS` days); None otherwise or when not later."""
        if s.guaranteed_kwh > 0.0 or s.origin == "charger":
            return None
        now = now or self.clock.now()
        cached = self._stays
        if cached is None or cached[0] != now.date():
            cached = self._stays = (now.date(), StayModel.from_history(self.history(now, HISTORY_DAYS), now))
        likely = cached[1].likely_departure(s.arrival, s.departure)
        return likely if likely > s.departure else None

    def history(self, now: datetime, days: float) -> list[PastSession]:
        """The journal's sessions ended in the last ``days`` days as the site's history (the
        forecast's and the stay model's): arrival, real departure, energy taken [kWh] and the
        departure its driver stated (None for a car plugged in without a booking)."""
        return [PastSession(r.arrival, r.ended_at, r.delivered_kwh, None if r.origin == "charger" else r.departure)
                for r in self.journal.sessions(since=now - timedelta(days=days))
                if r.state == "ended" and r.ended_at is not None]

    def _cabinet_of(self, cp: str) -> str:
        return self.site_of().asset(cp).cabinet

    def _handle_events(self, site: Site, events: list[ChargerEvent], readings: dict[str, ChargerReading],
                       now: datetime) -> None:
        sids = {cp: c.session.id for cp, c in self.cars.items()}
        self.journal.add_charger_events(events, sids)
        for e in events:
            try:
                cab = site.asset(e.cp).cabinet
            except KeyError:
                continue
            car = self.cars.get(e.cp)
            if e.kind == EventKind.PLUGGED and car is None:
                s = self.journal.open_session_on(e.cp)
                if s is None:  # a car no driver booked (e.g. a real charge point): best effort
                    s = SessionRecord(id=e.transaction or f"{e.cp}@{e.at:%Y%m%dT%H%M%S}", cp=e.cp, cabinet=cab,
                                      arrival=e.at, departure=e.at + UNBOOKED_STAY, requested_kwh=UNBOOKED_NEED_KWH,
                                      guaranteed_kwh=0.0, origin="charger")
                    self.journal.add_session(s)
                self.cars[e.cp] = CarState(s, rated_kw=float(site.asset(e.cp).rated_kw),
                                           likely_departure=self.likely_departure(s, e.at))
            elif e.kind == EventKind.UNPLUGGED and car is not None:
                delivered = float(e.detail.get("energy_kwh", car.delivered_kwh))
                self.journal.end_session(car.session.id, e.at, delivered, str(e.detail.get("reason", "left")))
                del self.cars[e.cp]
            elif e.kind == EventKind.FAULT and car is not None:
                car.faulted = True
            elif e.kind == EventKind.RECOVERED and car is not None:
                car.faulted = False
            elif e.kind == EventKind.NONCOMPLIANT and car is not None:
                car.uncontrolled = True
            self.dirty.add(cab)
        # sessions whose car is gone (e.g. a restart after the car left)
        for cp, car in list(self.cars.items()):
            r = readings.get(cp)
            if r is not None and not r.plugged and car.session.arrival <= now:
                self.journal.end_session(car.session.id, now, car.delivered_kwh, "gone")
                del self.cars[cp]
                self.dirty.add(site.asset(cp).cabinet)

    def _measure(self, site: Site, readings: dict[str, ChargerReading], now: datetime) -> None:
        delivered = {}
        for cp, car in self.cars.items():
            r = readings.get(cp)
            if r is None:
                continue
            cab = site.asset(cp).cabinet
            car.delivered_kwh, car.power_kw = float(r.energy_kwh), float(r.power_kw)
            delivered[car.session.id] = car.delivered_kwh
            car.faulted = r.status == Status.FAULTED
            sp = self.applied.get(cp)
            limit = sp.limit_at(now) if sp is not None else 0.0
            if r.power_kw > limit + NONCOMPLIANT_KW:
                if not car.uncontrolled:
                    car.uncontrolled = True
                    self.dirty.add(cab)
                    self.journal.add_event(EventKind.NONCOMPLIANT, now, cp, car.session.id, power_kw=r.power_kw,
                                           limit_kw=limit)
            elif car.uncontrolled and r.power_kw <= limit + 0.05 and sp is not None:
                car.uncontrolled = False
                self.dirty.add(cab)
            if (not car.uncontrolled and limit > r.power_kw + LIMITED_KW
                    and r.status in (Status.CHARGING, Status.SUSPENDED_EV)):
                if car.observe_limit(car.delivered_kwh, max(0.0, float(r.power_kw))):
                    self.dirty.add(cab)
            # off its plan?
            d = self.decisions.get(cab)
            seg = d.segments.get(car.session.id) if d is not None else None
            if seg is not None:
                planned = _planned_energy(seg, now)
                busy = np.flatnonzero(np.asarray(seg["power_kw"]) > 1e-6)
                last = int(busy[-1]) + 1 if busy.size else 0
                seg_end = datetime.fromisoformat(seg["start"]) + timedelta(minutes=seg["step_minutes"] * last)
                if abs(planned - car.delivered_kwh) > DRIFT_KWH or (now >= seg_end and car.need_left_kwh > 1e-3):
                    self.dirty.add(cab)  # off its plan, or its plan ran out before its need
        self.journal.set_delivered(delivered)

    def _replan(self, site: Site, now: datetime, rep: TickReport) -> None:
        for cab in sorted({c.id for c in site.cabinets}):
            cars = [c for cp, c in self.cars.items() if site.asset(cp).cabinet == cab]
            if not self.loop.due(cab, now, cars):
                continue
            t0 = time.perf_counter()
            scenario = site_scenario(site, cab, self.step_minutes, self.battery_now(site, cab, now))
            d = self.loop.step(cab, now, cars, scenario)
            if d is None:  # no car left: no plan
                continue
            ms = (time.perf_counter() - t0) * 1000
            self.journal.save_plans(d.segments)
            self.replans += 1
            self.replan_ms.append(ms)
            rep.replanned.append(cab)
            rep.replan_ms.append(ms)

    def battery_now(self, site: Site, cab: str, now: datetime) -> float | None:
        """The stationary battery's energy on cabinet ``cab`` at ``now`` [kWh] (None without one)."""
        g = site.group(cab)
        if not g.batteries:
            return None
        d = self.decisions.get(cab)
        e = d.battery_energy_at(now, self.battery_kwh.get(cab)) if d is not None else self.battery_kwh.get(cab)
        if e is None:
            return None
        cap = sum(b.capacity_kwh for b in g.batteries)
        e_min = sum(b.min_soc * b.capacity_kwh for b in g.batteries)
        return float(min(max(e, e_min), cap))

    def base_load_kw(self, site: Site, cab: str, now: datetime) -> tuple[float, float, float]:
        """(other load, PV, battery) of a cabinet at ``now`` [kW] (battery + charging)."""
        g = site.group(cab)
        other = sum(float(asset_profile_kw(a, now, 1, self.step_minutes)[0]) for a in g.loads)
        pv = sum(float(asset_profile_kw(a, now, 1, self.step_minutes)[0]) for a in g.pv_inverters)
        d = self.decisions.get(cab)
        bat = d.battery_kw_at(now) if (d is not None and g.batteries) else 0.0
        return other, pv, bat

    def _apply(self, site: Site, now: datetime, rep: TickReport) -> None:
        out: list[Setpoint] = []
        for g in site.groups():
            cab = g.cabinet.id
            cars = [c for cp, c in self.cars.items() if site.asset(cp).cabinet == cab]
            if not cars:
                continue
            d = self.decisions.get(cab)
            planned = {sp.cp: sp for sp in (d.setpoints if d is not None else [])}
            sps = []
            for c in cars:
                sp = planned.get(c.session.cp) or Setpoint(c.session.cp, 0.0, now, self.step_minutes, (0.0,))
                if c.faulted:
                    sp = Setpoint(c.session.cp, 0.0, now, self.step_minutes, (0.0,))
                sps.append((c, sp))
            other, pv, bat = self.base_load_kw(site, cab, now)
            uncontrolled = sum(c.power_kw for c, _ in sps if c.uncontrolled)
            allowed = float(g.cabinet.threshold_kw) - other + pv - bat - uncontrolled
            ctrl = [sp for c, sp in sps if not c.uncontrolled]
            capped, hit = guard(ctrl, allowed, now)
            if hit:
                rep.guarded.append(cab)
                self.dirty.add(cab)
            out += capped + [sp for c, sp in sps if c.uncontrolled]
        changed = [sp for sp in out if self.applied.get(sp.cp) != sp]
        if changed:
            self.chargers.apply(changed)
            sids = {cp: c.session.id for cp, c in self.cars.items()}
            self.journal.add_setpoints(now, [(sp.cp, sids.get(sp.cp), sp.power_kw) for sp in changed])
            for sp in changed:
                self.applied[sp.cp] = sp
        for cp in list(self.applied):
            if cp not in self.cars:
                del self.applied[cp]

    def _account(self, site: Site, readings: dict[str, ChargerReading], prev: datetime | None, now: datetime) -> None:
        """Record each cabinet's load since the last tick and any energy above its threshold."""
        last = {cp: r for cp, r in self.readings.items()}
        hours = (now - prev).total_seconds() / 3600 if prev is not None else 0.0
        for g in site.groups():
            cab = g.cabinet.id
            ev_now = sum(readings[a.id].power_kw for a in g.charge_points if a.id in readings)
            if hours > 0 and last:
                ev_avg = sum(max(0.0, readings[a.id].meter_kwh - last[a.id].meter_kwh)
                             for a in g.charge_points if a.id in readings and a.id in last) / hours
                other, pv, bat = self.base_load_kw(site, cab, prev)
                imp = ev_avg + other - pv + bat
                over = max(0.0, imp - float(g.cabinet.threshold_kw) * (1 + 1e-6) - 1e-6)
                if over > 0:
                    self.overload_kwh[cab] = self.overload_kwh.get(cab, 0.0) + over * hours
                    self.journal.add_event("overload", now, None, None, cabinet=cab, kw=round(over, 4))
                pv_e = self.pv_today.get(cab)
                day = prev.date().isoformat()
                if pv_e is None or pv_e[0] != day:
                    pv_e = [day, 0.0]
                pv_e[1] += pv * hours
                self.pv_today[cab] = pv_e
            other, pv, bat = self.base_load_kw(site, cab, now)
            if self.cars or ev_now > 0:
                self.journal.add_loads(cab, now, ev_kw=round(ev_now, 4), other_kw=round(other, 4), pv_kw=round(pv, 4),
                                       battery_kw=round(bat, 4), threshold_kw=float(g.cabinet.threshold_kw))
            e = self.battery_now(site, cab, now)
            if e is not None:
                self.battery_kwh[cab] = e

    def _telemetry(self, site: Site, readings: dict[str, ChargerReading], now: datetime) -> int:
        current: dict[str, StatusReport] = {}
        for cp, r in readings.items():
            current[cp] = StatusReport(cp, r.status, round(float(r.power_kw), 3), round(float(r.energy_kwh), 3))
        for g in site.groups():
            cab = g.cabinet.id
            other, pv, bat = self.base_load_kw(site, cab, now)
            for a in g.pv_inverters:
                p = float(asset_profile_kw(a, now, 1, self.step_minutes)[0])
                share = p / pv if pv > 0 else 0.0
                e = (self.pv_today.get(cab) or [None, 0.0])[1] * share
                current[a.id] = StatusReport(a.id, Status.AVAILABLE, round(p, 3), round(e, 3))
            for a in g.batteries:
                e = self.battery_kwh.get(cab)
                if e is None:
                    e = a.initial_soc * a.capacity_kwh
                n = len(g.batteries)
                st = Status.CHARGING if bat > 0.05 else Status.AVAILABLE
                current[a.id] = StatusReport(a.id, st, round(bat / n, 3), round(min(e / n, a.capacity_kwh), 3))
        last = self.journal.last_enqueued()
        changes = status_changes(now, current, last)
        # every reading that moved stays in the journal
        sids = {cp: c.session.id for cp, c in self.cars.items()}
        moved = [r for cp, r in readings.items()
                 if cp in sids or self.readings.get(cp) is None or self.readings[cp].status != r.status]
        self.journal.add_readings(moved, sids)
        return self.journal.enqueue(now, changes)

    def _persist(self, now: datetime) -> None:
        self.journal.set_meta("last_tick", now.isoformat())
        self.journal.set_meta("battery_kwh", self.battery_kwh)
        self.journal.set_meta("pv_today", self.pv_today)
        state = getattr(self.chargers, "state", None)
        if callable(state):
            self.journal.set_meta("sim_state", state())

    # -- the outbox --------------------------------------------------------------------------------
    def flush(self, budget_s: float = 30.0) -> FlushResult:
        """Post queued statuses to SC2 (see :class:`engine.runtime.telemetry.Outbox`)."""
        res = self.outbox.flush(self.clock.now(), budget_s=budget_s)
        self.last_flush = res
        return res

    # -- background threads (the app) ---------------------------------------------------------------
    _started: "weakref.WeakSet[SiteRuntime]" = weakref.WeakSet()

    @classmethod
    def close_all(cls) -> None:
        """Stop every runtime started in this process (tests clear the app's singletons)."""
        for rt in list(cls._started):
            rt.close()

    def start(self, *, tick_seconds: float = 1.0, flush_seconds: float = 2.0) -> None:
        """Run the loop and the outbox in two daemon threads (idempotent)."""
        if self._threads:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - the loop must outlive one bad tick; logged
                    log.exception("runtime tick failed")
                self._wake.wait(tick_seconds)
                self._wake.clear()

        def sender() -> None:
            while not self._stop.is_set():
                try:
                    self.flush(budget_s=max(flush_seconds * 5, 10.0))
                except Exception:  # noqa: BLE001
                    log.exception("outbox flush failed")
                self._stop.wait(flush_seconds)

        SiteRuntime._started.add(self)
        for name, fn in (("site-runtime", loop), ("site-outbox", sender)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Stop the threads and release the chargers."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        self.chargers.close()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)


def car_for_session(s: SessionRecord) -> Car:
    """The simulated car of a kiosk booking (the simulator's stand-in for the driver's car).

    Its battery and SOC are the driver's when given (else a 60 kWh battery at the SOC that lets
    it take the need and end at 90 % at most); a 7.2 kW on-board charger; it leaves at the
    departure its driver stated.
    """
    battery = float(s.battery_kwh or 60.0)
    if s.soc_now_pct is not None:
        soc = float(s.soc_now_pct)
    else:
        battery = max(battery, s.requested_kwh / 0.85)
        soc = max(5.0, min(50.0, 90.0 - 100.0 * s.requested_kwh / battery))
    return Car(id=s.id, battery_kwh=battery, soc_pct=soc, max_kw=7.2, departs_at=s.departure)


def _planned_energy(seg: dict[str, Any], t: datetime) -> float:
    """Energy a plan segment has delivered by ``t`` [kWh]."""
    start = datetime.fromisoformat(seg["start"]) if isinstance(seg["start"], str) else seg["start"]
    dt_h = float(seg["step_minutes"]) / 60.0
    p = np.asarray(seg["power_kw"], float)
    x = (t - start).total_seconds() / 3600.0 / dt_h
    if x <= 0:
        return float(seg["base_kwh"])
    k = min(int(x), len(p))
    e = float(seg["base_kwh"]) + float(p[:k].sum()) * dt_h
    if k < len(p):
        e += float(p[k]) * (x - k) * dt_h
    return e
