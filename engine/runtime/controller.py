"""One cabinet's decision from what was measured: what to plan, the scenario, the setpoints.

The pieces of the control loop (:mod:`engine.runtime.loop`, which the live site and the
replay's ``mpc`` both run) and of the kiosk's quotes:

* :func:`session_spec` turns an open session and its metered energy into what the engine
  plans: while its promise runs, the rest of the promise, guaranteed (stage 1); after it is
  kept or its stated departure has passed, the rest of the need, best effort, over the window
  left (to its likely departure for a car never promised anything, :attr:`CarState.plan_departure`;
  one step for a car staying past it: re-planned every step);
* :func:`cabinet_scenario` builds the cabinet's scenario from ``now`` (PV, other load and prices
  from the site's profiles, the battery's energy now, the measured draw of uncontrolled charge
  points added to the other load);
* :class:`Decision` is a plan turned into setpoints (the plan's periods per charge point) and
  the plan segments shown to drivers; :func:`split_by_deadline` splits a plan's load among cars;
* :func:`guard` caps setpoints so that the cabinet's measured import stays under its threshold
  (as evcc's circuit does), whatever the plan assumed.

Units: [kW], [kWh], steps of ``step_minutes`` starting at ``now`` (not at a whole step: a car
booked at 16:16 charges from 16:16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Sequence

import numpy as np

from engine.chargers import Setpoint
from engine.optimize.scenario import Scenario, SessionSpec
from engine.optimize.tiebreak import deadline_split
from engine.runtime.journal import SessionRecord
from engine.site.model import Site
from engine.site.to_scenario import scenario_for_group

__all__ = ["CarState", "Decision", "session_spec", "cabinet_scenario", "split_by_deadline", "guard", "EPS_KWH"]

EPS_KWH = 1e-3
#: Split each plan's load among cars earliest deadline first (time-consistent re-planning:
#: a car that can wait leaves the early capacity to one that cannot; see docs/runtime.md).
SPLIT_BY_DEADLINE = True
#: In that split, promises first: a promise is split as if its deadline were PROMISE_WEIGHT times
#: nearer (1 = plain deadline order; 1 to 100 measured: 1.5 is the largest that costs no energy;
#: docs/promises.md, "Promises first").
PROMISE_WEIGHT = 1.5
#: A promise is quoted as if the car took only this share of the charge point's rating, so that
#: a car whose own charger is a little slower, or that tapers near full, still gets it; plans use
#: the full rating (measured in docs/runtime.md).
PROMISE_DERATE = 0.9
PROMISE_MARGIN_FRAC = 0.2
PROMISE_MARGIN_MAX = timedelta(minutes=60)
MAX_HORIZON_H = 24


@dataclass
class CarState:
    """What the runtime knows of an open session's car now.

    Parameters
    ----------
    session : SessionRecord
    delivered_kwh : float
        Metered energy so far [kWh].
    power_kw : float
        Metered power now [kW].
    accept_kw : float or None
        Most the car was seen to take (learned when it draws less than its limit) [kW].
    faulted : bool
        The charge point is faulted (the car cannot charge).
    uncontrolled : bool
        The charge point does not follow its limit (planned as other load).
    rated_kw : float
        The charge point's rating [kW] (0: unknown).
    limited : list of (float, float)
        (energy [kWh], power [kW]) when the car took less than allowed (its taper).
    likely_departure : datetime or None
        When the car is likely to leave, learned from the site's history
        (:class:`engine.promises.stay.StayModel`); used for planning while it was never
        promised anything (:attr:`plan_departure`). None: its stated departure.
    """

    session: SessionRecord
    delivered_kwh: float = 0.0
    power_kw: float = 0.0
    accept_kw: float | None = None
    faulted: bool = False
    uncontrolled: bool = False
    rated_kw: float = 0.0
    limited: list[tuple[float, float]] = field(default_factory=list)
    likely_departure: datetime | None = None

    def observe_limit(self, delivered_kwh: float, power_kw: float) -> bool:
        """The car drew ``power_kw`` though allowed more: learn its limit. True if it changed."""
        self.limited = [o for o in self.limited if o[0] < delivered_kwh - 1e-6][-5:] + [(delivered_kwh, power_kw)]
        eff = taper_effective_kw(self.limited, self.need_left_kwh)
        if self.accept_kw is None or abs(eff - self.accept_kw) > 0.1:
            self.accept_kw = eff
            return True
        return False

    def in_promise(self, now: datetime, eps_kwh: float = EPS_KWH) -> bool:
        """Its promise still runs at ``now``: before the stated departure, more than ``eps_kwh`` left."""
        return self.session.in_promise(now) and self.promise_left_kwh > eps_kwh

    @property
    def plan_departure(self) -> datetime:
        """The departure its best-effort charge is planned by: the likely one for a car never
        promised anything (when known and later), else the stated one (also after a promise)."""
        s = self.session
        if self.likely_departure is not None and s.guaranteed_kwh <= 0.0 and self.likely_departure > s.departure:
            return self.likely_departure
        return s.departure

    @property
    def promise_left_kwh(self) -> float:
        return max(0.0, self.session.guaranteed_kwh - self.delivered_kwh)

    @property
    def need_left_kwh(self) -> float:
        return max(0.0, self.session.requested_kwh - self.delivered_kwh)


def taper_effective_kw(obs: Sequence[tuple[float, float]], remaining_kwh: float) -> float:
    """A constant power that delivers ``remaining_kwh`` in the time a tapering car needs [kW].

    ``obs`` are (energy delivered [kWh], power the car took [kW]) when it took less than its
    limit, oldest first. With two or more, the taper is taken as linear in energy (as an AC car's
    is above ~80 % SOC, see :mod:`engine.runtime.cars`): ``P(E) = P_last - k (E - E_last)``, and the
    equivalent power is ``R / integral(dE / P(E))``; the power never falls below 10 % of the last.
    With one observation, the last power.
    """
    e_last, p_last = obs[-1]
    if p_last <= 0:
        return 0.0
    slopes = [(p0 - p1) / (e1 - e0) for (e0, p0), (e1, p1) in zip(obs[:-1], obs[1:]) if e1 - e0 > 0.05]
    k = max([0.0] + slopes[-2:])
    r = max(float(remaining_kwh), 0.0)
    if k <= 1e-9 or r <= 1e-9:
        return p_last
    floor = 0.1 * p_last
    e_floor = (p_last - floor) / k  # energy until the floor
    if r <= e_floor:
        hours = math.log(p_last / (p_last - k * r)) / k
    else:
        hours = math.log(p_last / floor) / k + (r - e_floor) / floor
    return r / hours


def steps_until(now: datetime, t: datetime, step_minutes: float, *, up: bool = False) -> int:
    """Whole steps from ``now`` until ``t`` (at least 0), rounded down (or ``up``)."""
    x = (t - now).total_seconds() / (60.0 * step_minutes)
    return max(0, math.ceil(x - 1e-9) if up else math.floor(x + 1e-9))


def promise_deadline(arrival: datetime, departure: datetime) -> datetime:
    """When a promise is planned to be complete: the stated departure less a margin.

    The margin, ``min(PROMISE_MARGIN_MAX, PROMISE_MARGIN_FRAC x stay)``, is time left for what the
    plan cannot know: a car that tapers near full or takes less than the rating (measured in
    docs/runtime.md). Quotes use the same deadline, so what is promised can be planned.
    """
    stay = departure - arrival
    return departure - min(PROMISE_MARGIN_MAX, stay * PROMISE_MARGIN_FRAC)


def session_spec(car: CarState, now: datetime, step_minutes: float, horizon: int, *,
                 quote: bool = False, margin: bool = True, eps_kwh: float = EPS_KWH) -> SessionSpec | None:
    """What the engine plans for this car from ``now`` (None: nothing to plan).

    A promise's window ends at its promise deadline (``margin``; else at the stated departure),
    counted in whole steps from ``now``: rounded down when quoting, up when planning. Plans start
    wherever ``now`` falls, so rounding down at every re-plan would lose part of a step of every
    car's window each time (and make a tight promise infeasible); rounding up stays within the
    margin before the stated departure. Energies up to ``eps_kwh`` count as nothing [kWh].
    """
    if car.faulted or car.uncontrolled:
        return None
    s = car.session
    max_kw = car.accept_kw
    dep = min(steps_until(now, s.departure, step_minutes), horizon)
    if car.in_promise(now, eps_kwh) and dep >= 1:
        if margin:
            early = min(steps_until(now, promise_deadline(s.arrival, s.departure), step_minutes, up=not quote),
                        horizon)
            if early >= 1:  # always the margin's deadline, even when it no longer holds: the plan then
                dep = early  # gives the car all it can before it, rather than deferring it (docs/runtime.md)
        energy = min(car.promise_left_kwh, car.need_left_kwh) if s.requested_kwh > 0 else car.promise_left_kwh
        return SessionSpec(id=s.id, cp=s.cp, arrival_step=0, departure_step=dep, energy_kwh=energy,
                           max_kw=max_kw, guaranteed=True)
    need = car.need_left_kwh
    if need <= eps_kwh:
        return None
    dep = min(steps_until(now, car.plan_departure, step_minutes), horizon)
    end = dep if dep >= 1 else 1  # after the (likely) departure: one step at a time
    return SessionSpec(id=s.id, cp=s.cp, arrival_step=0, departure_step=end, energy_kwh=need, max_kw=max_kw)


def cabinet_scenario(
    site: Site,
    cabinet: str,
    now: datetime,
    specs: Sequence[SessionSpec],
    *,
    step_minutes: int,
    horizon: int | None = None,
    battery_energy_kwh: float | None = None,
    uncontrolled_kw: float = 0.0,
) -> Scenario:
    """The cabinet's scenario from ``now`` with ``specs`` (horizon: the latest window, >= 1)."""
    if horizon is None:
        horizon = max([1] + [s.departure_step for s in specs])
    sc = scenario_for_group(site, cabinet, start=now, horizon_steps=int(horizon), step_minutes=int(step_minutes),
                            sessions=list(specs), battery_energy_kwh=battery_energy_kwh)
    if uncontrolled_kw > 0:
        cab = sc.cabinets[0]
        other = np.zeros(sc.horizon_steps) if cab.other_load_kw is None else np.asarray(cab.other_load_kw, float)
        sc = replace(sc, cabinets=[replace(cab, other_load_kw=other + float(uncontrolled_kw))])
    return sc


@dataclass
class Decision:
    """A cabinet's plan turned into commands.

    Parameters
    ----------
    cabinet : str
    start : datetime
    step_minutes : int
    setpoints : list of Setpoint
        One per charge point with an open session (zero for those not planned).
    segments : dict
        Session id -> plan segment ``{start, step_minutes, base_kwh, power_kw}`` (for drivers).
    battery_kw : ndarray
        Planned battery power per step (+ charging) [kW].
    battery_energy_kwh : ndarray
        Planned battery energy at the start of each step and after the last [kWh].
    import_kw : ndarray
        Planned grid import per step [kW].
    solve_seconds : float
    guarantees_met : bool
    power_kw : dict
        Session id -> the plan's power per step [kW], as split among cars (the setpoints are
        these, rounded down to 0.1 W).
    guaranteed : frozenset of str
        Sessions planned as promises (guaranteed).
    """

    cabinet: str
    start: datetime
    step_minutes: int
    setpoints: list[Setpoint] = field(default_factory=list)
    segments: dict[str, dict] = field(default_factory=dict)
    battery_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    battery_energy_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    import_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    solve_seconds: float = 0.0
    guarantees_met: bool = True
    power_kw: dict[str, np.ndarray] = field(default_factory=dict)
    guaranteed: frozenset[str] = frozenset()

    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.step_minutes * max(len(self.import_kw), 1))

    def battery_energy_at(self, t: datetime, default: float | None) -> float | None:
        """Planned battery energy at ``t`` [kWh] (linear within a step)."""
        e = self.battery_energy_kwh
        if e.size == 0:
            return default
        x = (t - self.start).total_seconds() / (60.0 * self.step_minutes)
        k = int(min(max(math.floor(x), 0), e.size - 1))
        if k + 1 >= e.size:
            return float(e[-1])
        return float(e[k] + (e[k + 1] - e[k]) * min(max(x - k, 0.0), 1.0))

    def battery_kw_at(self, t: datetime) -> float:
        b = self.battery_kw
        if b.size == 0:
            return 0.0
        k = math.floor((t - self.start).total_seconds() / (60.0 * self.step_minutes))
        return float(b[k]) if 0 <= k < b.size else 0.0


def split_by_deadline(scenario: Scenario, specs: Sequence[SessionSpec], plan, *,
                      promise_weight: float = PROMISE_WEIGHT) -> tuple[dict[str, np.ndarray], bool]:
    """The plan's power per session [kW], its load re-split earliest deadline first, and whether
    the split solved (else the engine's own split is returned).

    The engine's stage 5 charges as early as possible in aggregate; which car takes the early
    capacity is a tie. Re-planning online, the car that can wait should leave it to the car that
    cannot (:func:`engine.optimize.tiebreak.deadline_split`). This is the one seam through which
    both the live loop and the replay's ``mpc`` turn an engine plan into powers. Splitting by
    latest start time instead was measured worse (docs/runtime.md). Promises (guaranteed specs)
    are split as if their deadlines were ``promise_weight`` (:data:`PROMISE_WEIGHT`) times nearer.
    """
    planned = {sp.id: np.asarray(sp.power_kw, float) for sp in plan.sessions}
    if len(specs) <= 1 or not SPLIT_BY_DEADLINE:
        return planned, True

    rated = {cp.id: cp.rated_kw for cp in scenario.charge_points}
    power = np.array([planned[sp.id] for sp in specs])
    max_kw = np.array([min(rated[sp.cp], sp.max_kw if sp.max_kw is not None else np.inf) for sp in specs])
    weight = np.array([promise_weight if sp.guaranteed else 1.0 for sp in specs])
    split = deadline_split(power, np.array([sp.departure_step for sp in specs]), max_kw, weight)
    if split is None:
        return planned, False
    return {sp.id: split[k] for k, sp in enumerate(specs)}, True


def guard(setpoints: Sequence[Setpoint], allowed_kw: float, now: datetime) -> tuple[list[Setpoint], bool]:
    """Cap the limits in force now so that their sum stays within ``allowed_kw`` [kW].

    The first period of each schedule is scaled down proportionally (later periods are left to
    the next re-plan). Returns the setpoints and whether any was capped.
    """
    current = [sp.limit_at(now) for sp in setpoints]
    total = float(sum(current))
    allowed = max(0.0, float(allowed_kw))
    if total <= allowed + 1e-6:
        return list(setpoints), False
    f = allowed / total if total > 0 else 0.0
    out = []
    for sp, cur in zip(setpoints, current):
        p = round(cur * f - 1e-4, 4) if cur > 0 else 0.0
        p = max(0.0, p)
        out.append(Setpoint(sp.cp, p, now, sp.step_minutes, (p,)))
    return out, True
