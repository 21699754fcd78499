"""The driver kiosk's use case: quotes and bookings over the live site's runtime, and progress.

A driver at a charge point says when they leave and how much energy they need (kWh, or battery
size + state of charge now + state of charge wanted). :meth:`Kiosk.quote` builds the scenario of
the charge point's cabinet from *now* (not from the next whole step) with the sessions open on
it, each guaranteed the rest of its promise (:mod:`engine.runtime.controller`), and asks
``engine.quote`` whether the need can be met; if not, how much can be and from which departure
on the whole need could be met. :meth:`Kiosk.book` quotes again and records the session with its
promise in the journal inside one write transaction (two drivers, or two processes, booking at
once are served one after the other: the second is told the charge point is taken, or quoted
on what the first left), then hands it to the site's runtime, which charges it.
:meth:`Kiosk.progress` reads what was *metered* and the plan ahead.

Time is the site's local time; every function takes ``now``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.kiosk.answers import (
    HORIZON_HOURS,
    MAX_ENERGY_KWH,
    MIN_ENERGY_KWH,
    KioskError,
    KioskQuote,
    Progress,
    QuoteChanged,
    quote_holds,
)
from engine.ledger import Status
from engine.optimize.quote import quote, quote_max_kwh
from engine.optimize.scenario import SessionSpec
from engine.promises import (
    DEFAULT_POLICY,
    Forecast,
    decide_promises,
    forecast_from_history,
)
from engine.runtime import controller
from engine.runtime.controller import (
    CarState,
    cabinet_scenario,
    promise_deadline,
    session_spec,
    steps_until,
)
from engine.runtime.journal import SessionRecord
from engine.site.model import Asset, AssetKind, Site
from engine.validate import number

if TYPE_CHECKING:  # pragma: no cover - a type only: the runtime does not import the kiosk
    from engine.runtime.site_runtime import SiteRuntime

__all__ = ["Kiosk", "ASK_BEYOND_HOURS", "FORECAST_DAYS"]

ASK_BEYOND_HOURS = 12
"""A departure further away than this is confirmed with the driver [h]."""
FORECAST_DAYS = 28
"""The journal's past this far back feeds the forecast of who is still to come [d]."""


class Kiosk:
    """Quotes and bookings of the driver kiosk over the live site's runtime.

    Parameters
    ----------
    runtime : SiteRuntime
        The site's runtime (its journal holds the sessions; it charges what is booked).
    policy : str
        The promise policy (:data:`engine.promises.POLICIES`; default the project's best).
    """

    def __init__(self, runtime: "SiteRuntime", *, policy: str = DEFAULT_POLICY) -> None:
        self.runtime = runtime
        self.policy = policy
        self.journal = runtime.journal
        self.step_minutes = runtime.step_minutes
        self.horizon_steps = HORIZON_HOURS * 60 // self.step_minutes

    # -- reading ---------------------------------------------------------------------------------
    def site(self) -> Site:
        """The live site (as the runtime sees it now)."""
        return self.runtime.site_of()

    def session_on(self, cp: str, now: datetime | None = None) -> SessionRecord | None:
        """The open session at ``cp``, if any."""
        return self.journal.open_session_on(cp)

    def session(self, session_id: str) -> SessionRecord:
        """The session ``session_id`` (open or ended)."""
        s = self.journal.session(session_id)
        if s is None:
            raise KioskError("session", f"unknown session {session_id!r}")
        return s

    def progress(self, session_id: str, now: datetime) -> Progress:
        """Metered energy, power, SOC and the plan ahead of a session at ``now``."""
        s = self.session(session_id)
        asset = self.site().asset(s.cp)
        rows = self.journal.readings(session_id=s.id)
        times = [s.arrival] + [datetime.fromisoformat(r["at"]) for r in rows]
        energy = [0.0] + [float(r["energy_kwh"]) for r in rows]
        delivered = energy[-1] if s.state == "open" else s.delivered_kwh
        last = rows[-1] if rows else None
        power = float(last["power_kw"]) if last and s.state == "open" else 0.0
        status = Status(last["status"]) if last and s.state == "open" else (
            Status.PREPARING if s.state == "open" else Status.AVAILABLE)
        soc = float(last["soc_pct"]) if last and last["soc_pct"] is not None else s.soc_pct(delivered)
        n_metered = len(times)
        seg = self.journal.plan(s.id) if s.state == "open" else None
        projected, finish = delivered, None
        if seg:
            start = datetime.fromisoformat(seg["start"])
            dt = timedelta(minutes=seg["step_minutes"])
            cum = seg["base_kwh"] + np.concatenate([[0.0], np.cumsum(seg["power_kw"]) * dt.total_seconds() / 3600])
            t_last = times[-1]
            for k, e in enumerate(cum):
                tk = start + k * dt
                if tk <= t_last or tk > s.departure:
                    continue
                e = max(float(e), delivered)
                times.append(tk)
                energy.append(e)
                projected = e
                if finish is None and e >= s.requested_kwh - 0.01:
                    finish = tk
        if finish is None and delivered >= s.requested_kwh - 0.01:
            finish = times[n_metered - 1]
        on_track = projected >= s.guaranteed_kwh - 0.01 or delivered >= s.guaranteed_kwh - 0.01
        return Progress(s, now, delivered, power, float(asset.rated_kw), soc, status, times, energy, n_metered,
                        projected, finish, on_track, float(asset.price_per_kwh))

    # -- quoting and booking -------------------------------------------------------------------------
    def _check(self, cp: str, departure: datetime, energy_kwh: Any, now: datetime) -> tuple[Asset, float]:
        """The charge point asked for and the need [kWh], checked; raises :class:`KioskError`."""
        site = self.site()
        try:
            asset = site.asset(cp)
        except KeyError:
            raise KioskError("cp", f"unknown charge point {cp!r}") from None
        if asset.kind != AssetKind.CHARGE_POINT:
            raise KioskError("cp", f"{cp!r} is a {asset.kind.label}, not a charge point")
        energy = number(energy_kwh, "energy_kwh", lo=0.0, hi=MAX_ENERGY_KWH, lo_open=True, interval=True, error=KioskError)
        if energy < MIN_ENERGY_KWH:
            raise KioskError("energy_kwh", f"must be at least {MIN_ENERGY_KWH:g} kWh, got {energy:g}")
        if not isinstance(departure, datetime):
            raise KioskError("departure", f"must be a time, got {departure!r}")
        if departure <= now:
            raise KioskError("departure", f"must be after now ({now:%H:%M}), got {departure:%a %H:%M}")
        if departure < now + timedelta(minutes=self.step_minutes):
            raise KioskError("departure", f"must be at least {self.step_minutes} min from now")
        if departure > now + timedelta(hours=HORIZON_HOURS):
            raise KioskError("departure", f"must be within {HORIZON_HOURS} h")
        return asset, energy

    def _cars(self, cabinet: str, now: datetime) -> list[CarState]:
        """The open sessions of a cabinet as the runtime sees them (the journal's, with what the
        runtime measured and learned when it runs in this process)."""
        live = {c.session.id: c for c in self.runtime.cars.values()}
        cars = []
        for s in self.journal.sessions(open_only=True, cabinet=cabinet):
            c = live.get(s.id)
            rated = float(self.site().asset(s.cp).rated_kw)
            cars.append(CarState(s, delivered_kwh=max(s.delivered_kwh, c.delivered_kwh if c else 0.0), rated_kw=rated,
                                 accept_kw=c.accept_kw if c else None, faulted=c.faulted if c else False,
                                 uncontrolled=c.uncontrolled if c else False, power_kw=c.power_kw if c else 0.0,
                                 likely_departure=c.likely_departure if c else self.runtime.likely_departure(s, now)))
        return cars

    def _forecast(self, site: Site, now: datetime) -> Forecast | None:
        """Who is still to come today, from the site's own past sessions (the journal)."""
        past = self.runtime.history(now, FORECAST_DAYS)
        if not past:
            return None
        return forecast_from_history(past, now, now, self.step_minutes, self.horizon_steps)

    def _quote(self, cp: str, departure: datetime, energy_kwh: Any, now: datetime) -> KioskQuote:
        t0 = perf_counter()

        asset, energy = self._check(cp, departure, energy_kwh, now)
        busy = self.journal.open_session_on(cp)
        if busy is not None and busy.origin != "charger":
            raise KioskError("cp", f"{cp} is taken: a session runs there until {busy.departure:%H:%M}")
        cars = [c for c in self._cars(asset.cabinet, now) if c.session.cp != cp]
        # the promises already made, as the quote sees them: cars at the derated power too, so
        # that the plans (at the full rating) keep a margin for every promise, not only this one
        specs = []
        for c in cars:
            sp = session_spec(c, now, self.step_minutes, self.horizon_steps, quote=True)
            if sp is None or not sp.guaranteed:
                continue
            cap = controller.PROMISE_DERATE * c.rated_kw
            specs.append(replace(sp, max_kw=cap if sp.max_kw is None else min(sp.max_kw, cap)))
        promised_by = promise_deadline(now, departure)
        dep = max(1, min(self.horizon_steps, steps_until(now, promised_by, self.step_minutes)))
        uncontrolled = sum(c.power_kw for c in cars if c.uncontrolled)
        site = self.site()
        sc = cabinet_scenario(site, asset.cabinet, now, specs, step_minutes=self.step_minutes,
                              horizon=self.horizon_steps, battery_energy_kwh=self.runtime.battery_now(site, asset.cabinet, now),
                              uncontrolled_kw=uncontrolled)
        req = SessionSpec(id="request", cp=cp, arrival_step=0, departure_step=dep, energy_kwh=energy,
                          max_kw=controller.PROMISE_DERATE * float(asset.rated_kw))
        q = quote(sc, req)  # the earliest departure for all of the need
        # what is promised: the site's promise policy (engine.promises), as the replay's mpc
        present = list(specs)
        overdue = []  # still plugged in after their stated (or likely) departure: room kept, never promised
        for c in cars:
            if c.faulted or c.uncontrolled:
                continue
            rest = c.need_left_kwh - (c.promise_left_kwh if c.session.in_promise(now) else 0.0)
            end = steps_until(now, c.plan_departure, self.step_minutes)  # a car promised nothing: its likely departure
            if rest > 1e-3 and end >= 1:
                present.append(SessionSpec(id=f"{c.session.id}+", cp=c.session.cp, arrival_step=0,
                                           departure_step=min(end, self.horizon_steps), energy_kwh=rest))
            elif end < 1 and c.need_left_kwh > 1e-3:
                overdue.append(SessionSpec(id=f"{c.session.id}+", cp=c.session.cp, arrival_step=0, departure_step=1,
                                           energy_kwh=c.need_left_kwh))
        res = decide_promises(sc, asset.cabinet, present, [req], self._forecast(site, now), policy=self.policy,
                              overdue=overdue)
        d = res.decisions[0]
        eds = q.earliest_departure_step
        dt = timedelta(minutes=self.step_minutes)
        earliest = None if eds is None else max(now + eds * dt, now)
        max_kwh = min(energy, float(d.promised_kwh))
        feasible = max_kwh >= energy - 1e-3
        likely = max_kwh
        if not feasible:  # what the site would likely give by the stated departure, at the car's full rate
            full = SessionSpec(id="request", cp=cp, arrival_step=0,
                               departure_step=max(1, min(self.horizon_steps, steps_until(now, departure, self.step_minutes))),
                               energy_kwh=energy)
            likely = max(max_kwh, float(d.likely_kwh), min(energy, float(quote_max_kwh(sc, full))))
        return KioskQuote(cp=cp, cabinet=asset.cabinet, now=now, departure=departure, energy_kwh=energy,
                          feasible=feasible, max_kwh=max_kwh, earliest_departure=earliest,
                          solve_seconds=perf_counter() - t0, likely_kwh=likely)

    def quote(self, cp: str, departure: datetime, energy_kwh: float, now: datetime) -> KioskQuote:
        """May this driver's need be met? (no booking is made)

        Parameters
        ----------
        cp : str
            Charge point id.
        departure : datetime
            When the driver leaves (site local time), within 24 h.
        energy_kwh : float
            The need [kWh], in [0.1, 200].
        now : datetime
            The site's clock.

        Raises
        ------
        KioskError
            Naming the bad field (``cp``, ``departure``, ``energy_kwh``); ``cp`` when the charge
            point is taken.
        """
        return self._quote(cp, departure, energy_kwh, now)

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
        origin: str = "kiosk",
        session_id: str | None = None,
        accepted_kwh: float | None = None,
    ) -> tuple[SessionRecord, KioskQuote]:
        """Quote again and book: the session is promised min(need, quote) by ``departure``.

        Quote and booking happen in one journal write transaction, so concurrent bookings (other
        threads or processes) on the same site are served one after the other. ``accepted_kwh``
        is the promise the driver was shown and accepted [kWh]: when the site can now promise
        materially less (:func:`~engine.kiosk.answers.quote_holds`), nothing is booked.

        Returns
        -------
        (session, quote)

        Raises
        ------
        KioskError
            On bad input; ``cp`` when the charge point is taken; ``energy_kwh`` when nothing at
            all can be delivered by ``departure``.
        QuoteChanged
            The site can now promise materially less than ``accepted_kwh`` (it carries the new quote).
        """
        with self.journal.transaction():
            q = self._quote(cp, departure, energy_kwh, now)
            if max(q.max_kwh, q.likely_kwh or 0.0) <= 1e-6:
                raise KioskError("energy_kwh", f"nothing can be delivered at {cp} before {departure:%H:%M}")
            if accepted_kwh is not None and not quote_holds(q.promise_kwh, accepted_kwh):
                raise QuoteChanged(q, accepted_kwh)

            existing = self.journal.open_session_on(cp)  # a car plugged in without a booking
            sid = session_id or (existing.id if existing is not None else f"{cp}@{now:%Y%m%dT%H%M%S}")
            s = SessionRecord(id=sid, cp=cp, cabinet=q.cabinet, arrival=existing.arrival if existing else now,
                              departure=departure, requested_kwh=q.energy_kwh,
                              guaranteed_kwh=round(q.promise_kwh, 6), likely_kwh=q.likely_kwh,
                              battery_kwh=battery_kwh, soc_now_pct=soc_now_pct, soc_target_pct=soc_target_pct,
                              origin=origin, delivered_kwh=existing.delivered_kwh if existing else 0.0)
            if existing is not None:
                self.journal.replace_session(s)
            else:
                self.journal.add_session(s)
            self.journal.add_event("booked", now, cp, sid, requested_kwh=q.energy_kwh, guaranteed_kwh=s.guaranteed_kwh,
                                   departure=departure.isoformat())
        self.runtime.session_started(s)
        return s, q
