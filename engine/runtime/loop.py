"""The one control loop: when a cabinet is re-planned, the planning call, the powers to apply.

The live site (:class:`engine.runtime.site_runtime.SiteRuntime`) and the replay's ``mpc``
(:class:`engine.replay.mpc.ModelPredictive`) both drive the engine through
:class:`ControlLoop`: each gives it, per cabinet, its cars' measured state
(:class:`~engine.runtime.controller.CarState`: the session and its promise, metered energy)
and marks the cabinet when an event happened; the loop decides whether to re-plan and, if so,
plans from *now* with :func:`engine.optimize.planner.plan_cabinet` and splits the plan's load among cars
earliest deadline first (:func:`~engine.runtime.controller.split_by_deadline`). What differs
between the two callers is where a scenario comes from (the site's profiles, or the replay's
one cabinet and tariff) and what counts as an event; the design is in ``docs/runtime.md``
("One control loop").

A cabinet is re-planned at a step when

* the caller marked it (:meth:`ControlLoop.mark`): an arrival, a departure, a booking, a fault,
  a threshold change; the live site also marks a car off its plan, a learned car limit, a plan
  that ran out before a car's need and a capped (guarded) limit;
* or it has cars and no plan, or its plan has ended;
* or a car is past its stated departure with need left (then at every step);
* or a promise planned as such has ended (kept, or its stated departure passed) with need left:
  the rest of the need becomes best effort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from engine.chargers import Setpoint
from engine.optimize.planner import plan_cabinet
from engine.optimize.scenario import Scenario, SessionSpec
from engine.promises.overdue import serve_overdue_first
from engine.runtime.controller import (
    EPS_KWH,
    MAX_HORIZON_H,
    PROMISE_WEIGHT,
    SPLIT_BY_DEADLINE,
    CarState,
    Decision,
    cabinet_scenario,
    promise_deadline,
    session_spec,
    split_by_deadline,
)
from engine.site.model import Site

__all__ = ["ControlLoop", "ScenarioOf", "site_scenario", "decide"]

ScenarioOf = Callable[[datetime, Sequence[SessionSpec], float], Scenario]
"""Builds a cabinet's scenario: ``(now, specs, uncontrolled_kw) -> Scenario`` starting at ``now``,
with the charge points of ``specs`` and ``uncontrolled_kw`` of measured draw added to its other
load [kW]."""


@dataclass
class ControlLoop:
    """Re-planning and setpoints for the cabinets of one site (or of one replay).

    Parameters
    ----------
    step_minutes : int
        Planning step [min].
    margin : bool
        Plan a promise to be complete a margin before the stated departure
        (:func:`~engine.runtime.controller.promise_deadline`; the live site) or by the stated
        departure itself (the replay, whose promises and cars are exact).
    split : bool
        Split each plan's load among cars earliest deadline first (else the engine's split).
    promise_weight : float
        In that split, promises as if their deadlines were this many times nearer (1: plain
        deadline order; default :data:`~engine.runtime.controller.PROMISE_WEIGHT`).
    horizon_steps : int or None
        Longest window planned [steps] (default :data:`~engine.runtime.controller.MAX_HORIZON_H`).
    eps_kwh : float
        Energy that counts as nothing: a need or promise left up to it is done [kWh].
    overdue_first : bool
        Guarantee, in the plan only, the next step of each car still there after its stated
        departure, as far as every promise allows, earliest stated departure first
        (:func:`engine.promises.overdue.serve_overdue_first`; what EDF does with them). On by
        default, for the live site and the replay alike (measured in ``docs/runtime.md``).

    Attributes
    ----------
    decisions : dict
        Cabinet -> its current :class:`~engine.runtime.controller.Decision`.
    dirty : set of str
        Cabinets marked for a re-plan at the next step.
    split_fallbacks : int
        Plans where the deadline split did not solve and the engine's split was kept.
    """

    step_minutes: int = 5
    margin: bool = True
    split: bool = SPLIT_BY_DEADLINE
    promise_weight: float = PROMISE_WEIGHT
    horizon_steps: int | None = None
    eps_kwh: float = EPS_KWH
    overdue_first: bool = True
    decisions: dict[str, Decision] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    split_fallbacks: int = 0

    def __post_init__(self) -> None:
        if self.horizon_steps is None:
            self.horizon_steps = MAX_HORIZON_H * 60 // int(self.step_minutes)

    def mark(self, cabinet: str) -> None:
        """An event on ``cabinet``: re-plan it at the next step."""
        self.dirty.add(cabinet)

    def due(self, cabinet: str, now: datetime, cars: Sequence[CarState]) -> bool:
        """Whether ``cabinet`` is re-planned at ``now`` (the rules in the module doc)."""
        if cabinet in self.dirty:
            return True
        if not cars:
            return False
        d = self.decisions.get(cabinet)
        if d is None or now >= d.end():
            return True
        eps = self.eps_kwh
        for c in cars:
            if c.need_left_kwh <= eps:
                continue
            if now >= c.plan_departure:
                return True  # past its stated (or likely) departure: one step at a time
            if c.session.id in d.guaranteed and not c.in_promise(now, eps):
                return True  # its promise ended: the rest is best effort
        return False

    def step(self, cabinet: str, now: datetime, cars: Sequence[CarState], scenario: ScenarioOf) -> Decision | None:
        """Re-plan ``cabinet`` if :meth:`due`; the new decision, or None (the current one holds).

        A cabinet without cars loses its decision (None is returned).
        """
        if not self.due(cabinet, now, cars):
            return None
        self.dirty.discard(cabinet)
        if not cars:
            self.decisions.pop(cabinet, None)
            return None
        return self.plan(cabinet, now, cars, scenario)

    def plan(self, cabinet: str, now: datetime, cars: Sequence[CarState], scenario: ScenarioOf) -> Decision:
        """Plan ``cabinet`` from ``now`` for these cars: the one planning call of both loops.

        Each car's session is what :func:`~engine.runtime.controller.session_spec` makes of it;
        uncontrolled cars' measured draw is other load. Returns (and keeps) the decision: the
        plan's powers and a setpoint for every controlled car's charge point.
        """
        specs = [sp for sp in (session_spec(c, now, self.step_minutes, self.horizon_steps, margin=self.margin,
                                            eps_kwh=self.eps_kwh) for c in cars) if sp is not None]
        uncontrolled = float(sum(c.power_kw for c in cars if c.uncontrolled))
        sc = scenario(now, specs, uncontrolled)
        if self.overdue_first:
            # past their stated departure with need left, earliest first (ties: the callers' order)
            late = sorted((c for c in cars if now >= c.plan_departure and c.need_left_kwh > self.eps_kwh
                           and not c.uncontrolled), key=lambda c: c.plan_departure)
            if late:
                # promises past their margin deadline: overdue cars only get what they leave
                asap = {c.session.id for c in cars if self.margin and c.in_promise(now, self.eps_kwh)
                        and now >= promise_deadline(c.session.arrival, c.session.departure)}
                specs = serve_overdue_first(sc, specs, [c.session.id for c in late], asap)
        plan = plan_cabinet(sc, cabinet, specs)
        if self.split:
            powers, ok = split_by_deadline(sc, specs, plan, promise_weight=self.promise_weight)
            self.split_fallbacks += not ok
        else:
            powers = {sp.id: np.asarray(sp.power_kw, float) for sp in plan.sessions}
        d = Decision(cabinet, now, self.step_minutes, power_kw=powers,
                     guaranteed=frozenset(s.id for s in specs if s.guaranteed))
        d.guarantees_met = bool(plan.guarantees_met)
        d.import_kw = np.asarray(plan.grid_import_kw, float)
        d.battery_kw = np.asarray(plan.battery_charge_kw, float) - np.asarray(plan.battery_discharge_kw, float)
        bat = sc.cabinets[0].battery
        if bat is not None:
            d.battery_energy_kwh = np.concatenate([[bat.energy_kwh], np.asarray(plan.battery_energy_kwh, float)])
        for c in cars:
            if c.uncontrolled:
                continue
            s = c.session
            p = powers.get(s.id)
            sched = (0.0,) if p is None else tuple((np.floor(np.maximum(p, 0.0) * 1e4) / 1e4).tolist())
            d.setpoints.append(Setpoint(s.cp, sched[0], now, self.step_minutes, sched))  # never above the plan
            d.segments[s.id] = {"start": now.isoformat(), "step_minutes": self.step_minutes,
                                "base_kwh": c.delivered_kwh, "power_kw": list(sched)}
        d.solve_seconds = float(plan.solve_seconds)
        self.decisions[cabinet] = d
        return d

    def power_kw(self, cabinet: str, session_id: str, now: datetime) -> float:
        """The current plan's power for a session at ``now`` [kW] (0 without one)."""
        d = self.decisions.get(cabinet)
        p = d.power_kw.get(session_id) if d is not None else None
        if p is None:
            return 0.0
        k = math.floor((now - d.start).total_seconds() / (60.0 * d.step_minutes) + 1e-9)
        return float(p[k]) if 0 <= k < p.size else 0.0


def site_scenario(site: Site, cabinet: str, step_minutes: int, battery_energy_kwh: float | None = None) -> ScenarioOf:
    """The live site's :data:`ScenarioOf` for ``cabinet`` (:func:`~engine.runtime.controller.cabinet_scenario`)."""

    def build(now: datetime, specs: Sequence[SessionSpec], uncontrolled_kw: float) -> Scenario:
        return cabinet_scenario(site, cabinet, now, specs, step_minutes=step_minutes,
                                battery_energy_kwh=battery_energy_kwh, uncontrolled_kw=uncontrolled_kw)

    return build


def decide(site: Site, cabinet: str, now: datetime, cars: Sequence[CarState], *, step_minutes: int = 5,
           battery_energy_kwh: float | None = None) -> Decision:
    """One plan of a live site's cabinet from ``now`` for these cars (:meth:`ControlLoop.plan`)."""
    return ControlLoop(step_minutes).plan(cabinet, now, cars, site_scenario(site, cabinet, step_minutes,
                                                                             battery_energy_kwh))
