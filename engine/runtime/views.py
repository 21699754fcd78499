"""What the CPO's cockpit shows, computed from the live site's runtime (no drawing here).

:func:`cockpit_view` reads one :class:`~engine.runtime.site_runtime.SiteRuntime` and the
statuses read back from SC2 and returns a :class:`CockpitView`:

* per cabinet (:class:`CabinetView`), its load stack (:class:`LoadStack`): the measured load over
  the past hours from the journal (EVs, other load, battery, minus PV, and the threshold),
  averaged into bins, and the plan ahead from the cabinet's :class:`Decision` (EVs as the sum of
  the sessions' plan segments, other load and PV from the assets' profiles, the battery and the
  import as planned);
* per charge point (:class:`ChargePointRow`): power now against its rating and its limit, its
  status as the site measures it and as SC2 holds it (with its age), and its session's SOC and
  promise (delivered, guaranteed, planned by the departure);
* the alarms (:class:`Alarm`): a cabinet over its threshold, a promise at risk (the plan does
  not reach the guarantee by the departure), stale telemetry (a session runs and SC2's status is
  older than ``stale_after``), a faulted charge point, a charge point not following its limit,
  and a chain that does not answer (with the outbox's length).

Ages on chain are block timestamps (wall-clock seconds); with an accelerated site clock they are
scaled by its speed, so ``stale_after`` is site time like everything else on the page.
Units: [kW], [kWh], [s].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from engine.ledger import Status, StatusReport
from engine.site.model import Site
from engine.site.profiles import asset_profile_kw

if TYPE_CHECKING:  # pragma: no cover
    from engine.runtime.controller import Decision
    from engine.runtime.journal import Journal, SessionRecord
    from engine.runtime.site_runtime import SiteRuntime

__all__ = [
    "LoadStack",
    "CabinetView",
    "ChargePointRow",
    "Alarm",
    "CockpitView",
    "load_stack",
    "planned_by",
    "charge_point_rows",
    "alarms",
    "cockpit_view",
    "STALE_AFTER",
    "HISTORY_HOURS",
    "OVERLOAD_TOL_KW",
    "PROMISE_TOL_KWH",
]

STALE_AFTER = timedelta(minutes=20)
"""A running session whose SC2 status is older than this (site time) is stale telemetry."""
HISTORY_HOURS = 6.0
"""How far back the load stack goes [h]."""
OVERLOAD_TOL_KW = 0.05
"""Import above the threshold by more than this is an overload [kW]."""
PROMISE_TOL_KWH = 0.01
"""A plan short of the guarantee by more than this puts the promise at risk [kWh]."""


# -- the load stack --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadStack:
    """One cabinet's load: measured over the past hours, and planned ahead.

    Parameters
    ----------
    cabinet : str
    times : list of datetime
        Start of each measured bin (site local).
    ev_kw, other_kw, battery_kw, pv_kw, threshold_kw : ndarray
        Mean measured power per bin [kW]; battery + charging, - discharging; PV as produced (>= 0).
    import_kw : ndarray
        ``ev + other + battery - pv`` per bin [kW].
    plan_times : list of datetime
        Start of each planned step from the decision's start.
    plan_ev_kw, plan_other_kw, plan_battery_kw, plan_pv_kw, plan_import_kw : ndarray
        The plan per step [kW] (import as the planner computed it).
    threshold_now_kw : float
        The cabinet's threshold now [kW].
    """

    cabinet: str
    times: list[datetime] = field(default_factory=list)
    ev_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    other_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    battery_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pv_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    import_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_times: list[datetime] = field(default_factory=list)
    plan_ev_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_other_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_battery_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_pv_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_import_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold_now_kw: float = 0.0

    @property
    def peak_import_kw(self) -> float:
        """Highest measured bin [kW] (0 without measurements)."""
        return float(self.import_kw.max()) if self.import_kw.size else 0.0


def _measured(rows: Sequence[Mapping], since: datetime, now: datetime, bin_minutes: float) -> dict[str, object]:
    """Average journal load rows into bins of ``bin_minutes`` from ``since`` to ``now``."""
    keys = ("ev_kw", "other_kw", "battery_kw", "pv_kw", "threshold_kw")
    if not rows:
        return {"times": [], **{k: np.zeros(0) for k in keys}}
    at = np.array([(datetime.fromisoformat(r["at"]) - since).total_seconds() for r in rows])
    width = 60.0 * bin_minutes
    n_bins = max(1, int(np.ceil((now - since).total_seconds() / width)) + 1)
    idx = np.clip((at // width).astype(int), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    used = np.flatnonzero(count)
    out: dict[str, object] = {"times": [since + timedelta(seconds=float(k * width)) for k in used]}
    for k in keys:
        v = np.array([float(r[k]) for r in rows])
        out[k] = (np.bincount(idx, weights=v, minlength=n_bins)[used] / count[used])
    return out


def load_stack(
    journal: "Journal",
    site: Site,
    cabinet: str,
    now: datetime,
    decision: "Decision | None" = None,
    *,
    hours: float = HISTORY_HOURS,
    bin_minutes: float | None = None,
) -> LoadStack:
    """The cabinet's measured load since ``now - hours`` and its plan ahead.

    Parameters
    ----------
    journal : Journal
        Where the runtime recorded the cabinet's loads (``Journal.loads``).
    site : Site
    cabinet : str
    now : datetime
    decision : Decision or None
        The cabinet's current decision (None: nothing planned).
    hours : float
        History shown [h].
    bin_minutes : float or None
        Width of a measured bin [min] (default: ``hours`` split into at most 240 bins, at least 1 min).
    """
    since = now - timedelta(hours=hours)
    if bin_minutes is None:
        bin_minutes = max(1.0, hours * 60.0 / 240.0)
    m = _measured(journal.loads(cabinet, since=since), since, now, bin_minutes)
    ev, other, bat, pv = (np.asarray(m[k], float) for k in ("ev_kw", "other_kw", "battery_kw", "pv_kw"))
    thr_now = float(site.cabinet(cabinet).threshold_kw)
    stack = dict(cabinet=cabinet, times=list(m["times"]), ev_kw=ev, other_kw=other, battery_kw=bat, pv_kw=pv,
                 threshold_kw=np.asarray(m["threshold_kw"], float), import_kw=ev + other + bat - pv,
                 threshold_now_kw=thr_now)
    if decision is not None and decision.import_kw.size:
        n = int(decision.import_kw.size)
        step = int(decision.step_minutes)
        g = site.group(cabinet)
        plan_ev = np.zeros(n)
        for seg in decision.segments.values():
            p = np.asarray(seg["power_kw"], float)[:n]
            plan_ev[: p.size] += p
        plan_other = np.zeros(n)
        for a in g.loads:
            plan_other += asset_profile_kw(a, decision.start, n, step)
        plan_pv = np.zeros(n)
        for a in g.pv_inverters:
            plan_pv += asset_profile_kw(a, decision.start, n, step)
        plan_bat = np.zeros(n)
        b = np.asarray(decision.battery_kw, float)[:n]
        plan_bat[: b.size] = b
        stack.update(plan_times=[decision.start + timedelta(minutes=step * k) for k in range(n)],
                     plan_ev_kw=plan_ev, plan_other_kw=plan_other, plan_battery_kw=plan_bat, plan_pv_kw=plan_pv,
                     plan_import_kw=np.asarray(decision.import_kw, float))
    return LoadStack(**stack)


# -- charge points ---------------------------------------------------------------------------------
def planned_by(segment: Mapping | None, t: datetime) -> float | None:
    """Energy a plan segment reaches by ``t`` [kWh] (None without a segment).

    ``segment`` is ``{start, step_minutes, base_kwh, power_kw}`` as the journal keeps it
    (``Journal.plan``): ``base_kwh`` metered at ``start``, then ``power_kw`` per step.
    """
    if not segment:
        return None
    start = segment["start"]
    start = datetime.fromisoformat(start) if isinstance(start, str) else start
    dt_h = float(segment["step_minutes"]) / 60.0
    p = np.maximum(np.asarray(segment["power_kw"], float), 0.0)
    x = (t - start).total_seconds() / 3600.0 / dt_h
    if x <= 0:
        return float(segment["base_kwh"])
    k = min(int(x), p.size)
    e = float(segment["base_kwh"]) + float(p[:k].sum()) * dt_h
    if k < p.size:
        e += float(p[k]) * (x - k) * dt_h
    return e


@dataclass(frozen=True)
class ChargePointRow:
    """One charge point now.

    Parameters
    ----------
    cp, cabinet : str
    rated_kw : float
        Its rating [kW].
    power_kw : float
        Measured power now [kW].
    limit_kw : float or None
        The limit applied now [kW] (None: none applied).
    status : Status
        As the site measures it.
    chain_status : Status or None
        As SC2 holds it (None: nothing on chain, or no chain).
    chain_power_kw, chain_energy_kwh : float or None
        Power [kW] and energy [kWh] as SC2 holds them.
    chain_age_s : float or None
        Age of the SC2 status in site time [s] (None: nothing on chain).
    session_id : str or None
    soc_pct : float or None
        The car's state of charge [%] (reported, or from the driver's battery and SOC).
    delivered_kwh, guaranteed_kwh, requested_kwh : float
        Metered so far, promised, asked for [kWh] (0 without a session).
    departure : datetime or None
        The departure the driver stated.
    planned_kwh : float or None
        What the session's plan reaches by the departure [kWh].
    at_risk : bool
        The promise runs, is not yet kept, and the plan falls short of it.
    faulted, uncontrolled : bool
    """

    cp: str
    cabinet: str
    rated_kw: float
    power_kw: float = 0.0
    limit_kw: float | None = None
    status: Status = Status.AVAILABLE
    chain_status: Status | None = None
    chain_power_kw: float | None = None
    chain_energy_kwh: float | None = None
    chain_age_s: float | None = None
    session_id: str | None = None
    soc_pct: float | None = None
    delivered_kwh: float = 0.0
    guaranteed_kwh: float = 0.0
    requested_kwh: float = 0.0
    departure: datetime | None = None
    planned_kwh: float | None = None
    at_risk: bool = False
    faulted: bool = False
    uncontrolled: bool = False

    @property
    def load_pct(self) -> float:
        """Power now against the rating [%]."""
        return 100.0 * self.power_kw / self.rated_kw if self.rated_kw > 0 else 0.0


def _chain_age_s(rep: StatusReport | None, wall_now: float, speed: float) -> float | None:
    if rep is None or not rep.updated_at:
        return None
    return max(0.0, wall_now - float(rep.updated_at)) * (speed if speed > 0 else 1.0)


def promise_at_risk(session: "SessionRecord", delivered_kwh: float, planned_kwh: float | None,
                    now: datetime) -> bool:
    """The promise runs, is not kept yet, and the plan does not reach it by the departure."""
    if not session.in_promise(now) or delivered_kwh >= session.guaranteed_kwh - PROMISE_TOL_KWH:
        return False
    reach = delivered_kwh if planned_kwh is None else max(planned_kwh, delivered_kwh)
    return reach < session.guaranteed_kwh - PROMISE_TOL_KWH


def charge_point_rows(
    rt: "SiteRuntime",
    site: Site,
    statuses: Mapping[str, StatusReport | None],
    now: datetime,
    *,
    wall_now: float,
    speed: float = 1.0,
) -> list[ChargePointRow]:
    """Every charge point of the site, in the site's order.

    Parameters
    ----------
    rt : SiteRuntime
        Its ``readings``, ``applied``, ``cars`` and ``journal`` are read.
    site : Site
    statuses : mapping
        Charge point -> its status read back from SC2 (missing or None: none).
    now : datetime
        Site time.
    wall_now : float
        Now on the clock of the block timestamps [s since epoch] (the wall clock, or the chain's
        head when it runs ahead: ``ChainService.chain_now``).
    speed : float
        The site clock's speed (0: frozen, counted as 1).
    """
    out = []
    for a in site.charge_points:
        r = rt.readings.get(a.id)
        sp = rt.applied.get(a.id)
        car = rt.cars.get(a.id)
        rep = statuses.get(a.id)
        row = dict(cp=a.id, cabinet=a.cabinet, rated_kw=float(a.rated_kw),
                   power_kw=float(r.power_kw) if r is not None else 0.0,
                   limit_kw=float(sp.limit_at(now)) if sp is not None else None,
                   status=r.status if r is not None else Status.AVAILABLE,
                   chain_status=rep.status if rep is not None else None,
                   chain_power_kw=float(rep.power_kw) if rep is not None else None,
                   chain_energy_kwh=float(rep.energy_kwh) if rep is not None else None,
                   chain_age_s=_chain_age_s(rep, wall_now, speed))
        if car is not None:
            s = car.session
            planned = planned_by(rt.journal.plan(s.id), s.departure)
            soc = r.soc_pct if r is not None and r.soc_pct is not None else s.soc_pct(car.delivered_kwh)
            row.update(session_id=s.id, soc_pct=soc, delivered_kwh=float(car.delivered_kwh),
                       guaranteed_kwh=float(s.guaranteed_kwh), requested_kwh=float(s.requested_kwh),
                       departure=s.departure, planned_kwh=planned,
                       at_risk=promise_at_risk(s, car.delivered_kwh, planned, now),
                       faulted=bool(car.faulted), uncontrolled=bool(car.uncontrolled))
        if r is not None and r.status == Status.FAULTED:
            row["faulted"] = True
        out.append(ChargePointRow(**row))
    return out


# -- cabinets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CabinetView:
    """One cabinet now.

    Parameters
    ----------
    id, name : str
    threshold_kw : float
        Its threshold now [kW].
    ev_kw, other_kw, pv_kw, battery_kw : float
        Measured EV power, and other load, PV and battery as the runtime takes them now [kW].
    import_kw : float
        ``ev + other + battery - pv`` [kW].
    overload_kwh : float
        Energy above the threshold since the runtime started [kWh].
    sessions : int
        Open sessions on its charge points.
    guarantees_met : bool
        The cabinet's last plan keeps every promise.
    stack : LoadStack
    """

    id: str
    name: str
    threshold_kw: float
    ev_kw: float
    other_kw: float
    pv_kw: float
    battery_kw: float
    import_kw: float
    overload_kwh: float
    sessions: int
    guarantees_met: bool
    stack: LoadStack

    @property
    def headroom_kw(self) -> float:
        """Threshold less import [kW] (negative: overloaded)."""
        return self.threshold_kw - self.import_kw

    @property
    def overloaded(self) -> bool:
        return self.import_kw > self.threshold_kw + OVERLOAD_TOL_KW


# -- alarms ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alarm:
    """One thing the CPO should look at.

    Parameters
    ----------
    kind : {"overload", "promise_at_risk", "stale_telemetry", "faulted", "uncontrolled", "chain"}
    severity : {"error", "warning"}
    subject : str or None
        The cabinet or charge point concerned (None: the site).
    message : str
    """

    kind: str
    severity: str
    subject: str | None
    message: str


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def alarms(
    cabinets: Sequence[CabinetView],
    rows: Sequence[ChargePointRow],
    *,
    chain_mode: str,
    chain_answers: bool,
    chain_error: str | None,
    outbox_pending: int,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    arrivals: Mapping[str, datetime] | None = None,
) -> list[Alarm]:
    """The alarms of the site now, errors first.

    Parameters
    ----------
    cabinets, rows : sequence
        From :func:`cockpit_view`'s parts.
    chain_mode : str
        ``off`` (no chain: no chain or telemetry alarm), else the chain service's mode.
    chain_answers : bool
        The chain answered its last ping.
    chain_error : str or None
        Why it does not (connection or outbox error).
    outbox_pending : int
        Statuses waiting in the journal's outbox.
    now : datetime
    stale_after : timedelta
        Site time after which a running session's SC2 status is stale.
    arrivals : mapping, optional
        Session id -> arrival (a session younger than ``stale_after`` with nothing on chain yet
        is not stale).
    """
    out: list[Alarm] = []
    for c in cabinets:
        if c.overloaded:
            out.append(Alarm("overload", "error", c.id,
                             f"{c.id} imports {c.import_kw:.1f} kW, over its {c.threshold_kw:g} kW threshold "
                             f"by {c.import_kw - c.threshold_kw:.1f} kW"))
        elif c.overload_kwh > 1e-3:
            out.append(Alarm("overload", "warning", c.id,
                             f"{c.id} went over its threshold: {c.overload_kwh:.2f} kWh above it since start"))
    for r in rows:
        if r.faulted:
            out.append(Alarm("faulted", "error", r.cp, f"{r.cp} is faulted" +
                             (f" with a car plugged in (session {r.session_id})" if r.session_id else "")))
        if r.at_risk:
            plan = "no plan" if r.planned_kwh is None else f"the plan reaches {r.planned_kwh:.1f} kWh"
            out.append(Alarm("promise_at_risk", "error", r.cp,
                             f"{r.cp}: promise at risk - {r.guaranteed_kwh:.1f} kWh guaranteed by "
                             f"{r.departure:%H:%M}, {r.delivered_kwh:.1f} kWh delivered, {plan}"))
        if r.uncontrolled:
            out.append(Alarm("uncontrolled", "warning", r.cp,
                             f"{r.cp} does not follow its limit: draws {r.power_kw:.1f} kW (planned as other load)"))
    if chain_mode != "off":
        why = f" ({chain_error})" if chain_error else ""
        if not chain_answers:
            out.append(Alarm("chain", "error", None,
                             f"The chain does not answer{why}: {outbox_pending} statuses wait in the outbox"))
        elif chain_error:
            out.append(Alarm("chain", "warning", None,
                             f"The chain answers but takes no statuses yet{why}: {outbox_pending} wait in the outbox"))
        else:
            limit = stale_after.total_seconds()
            for r in rows:
                if r.session_id is None:
                    continue
                if r.chain_age_s is None:
                    arrived = (arrivals or {}).get(r.session_id)
                    if arrived is not None and (now - arrived).total_seconds() > limit:
                        out.append(Alarm("stale_telemetry", "warning", r.cp,
                                         f"{r.cp}: a session runs but SC2 holds no status for it"))
                elif r.chain_age_s > limit:
                    out.append(Alarm("stale_telemetry", "warning", r.cp,
                                     f"{r.cp}: SC2 status is {_age_text(r.chain_age_s)} old while a session runs"))
    return sorted(out, key=lambda a: a.severity != "error")


# -- the whole view -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CockpitView:
    """What the cockpit shows at ``now``.

    Parameters
    ----------
    now : datetime
    cabinets : list of CabinetView
    rows : list of ChargePointRow
    alarms : list of Alarm
    outbox_pending : int
        Statuses waiting for the chain.
    """

    now: datetime
    cabinets: list[CabinetView]
    rows: list[ChargePointRow]
    alarms: list[Alarm]
    outbox_pending: int

    def rows_of(self, cabinet: str) -> list[ChargePointRow]:
        """The charge points of one cabinet."""
        return [r for r in self.rows if r.cabinet == cabinet]


def cockpit_view(
    rt: "SiteRuntime",
    statuses: Mapping[str, StatusReport | None],
    *,
    wall_now: float,
    chain_mode: str,
    chain_answers: bool,
    chain_error: str | None = None,
    now: datetime | None = None,
    cabinets: Sequence[str] | None = None,
    hours: float = HISTORY_HOURS,
    stale_after: timedelta = STALE_AFTER,
) -> CockpitView:
    """The cockpit of ``rt``'s site now.

    Parameters
    ----------
    rt : SiteRuntime
    statuses : mapping
        Charge point -> its status read back from SC2.
    wall_now : float
        Now on the clock of the block timestamps [s since epoch] (see :func:`charge_point_rows`).
    chain_mode, chain_answers, chain_error
        See :func:`alarms`; the outbox's last error counts as the chain not answering.
    now : datetime, optional
        Site time (default: the runtime's clock).
    cabinets : sequence of str, optional
        Cabinets to build load stacks for (default: all); alarms always cover the whole site.
    hours : float
        History of the load stacks [h].
    stale_after : timedelta
    """
    now = now or rt.clock.now()
    site = rt.site_of()
    speed = float(getattr(rt.clock, "speed", 1.0))
    with rt.lock:  # a consistent snapshot of the loop's state
        rows = charge_point_rows(rt, site, statuses, now, wall_now=wall_now, speed=speed)
        decisions = dict(rt.decisions)
        overload = dict(rt.overload_kwh)
        arrivals = {c.session.id: c.session.arrival for c in rt.cars.values()}
        base = {c.id: rt.base_load_kw(site, c.id, now) for c in site.cabinets}
    wanted = set(cabinets) if cabinets is not None else {c.id for c in site.cabinets}
    views = []
    for c in site.cabinets:
        mine = [r for r in rows if r.cabinet == c.id]
        ev = float(sum(r.power_kw for r in mine))
        other, pv, bat = base[c.id]
        d = decisions.get(c.id)
        stack = (load_stack(rt.journal, site, c.id, now, d, hours=hours) if c.id in wanted
                 else LoadStack(c.id, threshold_now_kw=float(c.threshold_kw)))
        views.append(CabinetView(id=c.id, name=c.name, threshold_kw=float(c.threshold_kw), ev_kw=ev,
                                 other_kw=float(other), pv_kw=float(pv), battery_kw=float(bat),
                                 import_kw=ev + float(other) + float(bat) - float(pv),
                                 overload_kwh=float(overload.get(c.id, 0.0)),
                                 sessions=sum(1 for r in mine if r.session_id is not None),
                                 guarantees_met=bool(d.guarantees_met) if d is not None else True, stack=stack))
    pending = rt.journal.pending_count()
    err = chain_error or rt.outbox.last_error
    al = alarms(views, rows, chain_mode=chain_mode, chain_answers=chain_answers, chain_error=err,
                outbox_pending=pending, now=now, stale_after=stale_after, arrivals=arrivals)
    return CockpitView(now=now, cabinets=views, rows=rows, alarms=al, outbox_pending=pending)
