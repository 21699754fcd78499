"""The engine as a replay strategy: online ``mpc`` and the ``offline`` upper bound.

``mpc`` (model predictive control, online, no knowledge of the future) runs the live site's
control loop (:class:`engine.runtime.loop.ControlLoop`): each arriving driver is given a promise
by the promise policy (:func:`engine.promises.decide_promises`, the kiosk's entry point), then
the loop re-plans the one site cabinet with :func:`engine.optimize.planner.plan_cabinet` when something
changed and the cars follow the plan in between. ``offline`` plans the whole window at once
with every session known (the upper bound of delivered energy). The design, the options and
the measurements behind them are in ``docs/replay.md`` ("mpc").
"""

from __future__ import annotations

import dataclasses
import math
import time
from datetime import datetime, timedelta, timezone

import numpy as np

from engine.optimize.planner import plan_cabinet
from engine.optimize.scenario import CabinetSpec, ChargePointSpec, Scenario, SessionSpec
from engine.promises import (
    DEFAULT_DAYS,
    DEFAULT_POLICY,
    RESERVE,
    decide_promises,
    forecast_from_history,
)
from engine.promises.stay import StayModel
from engine.replay.options import STAYS, strategy_options
from engine.replay.problem import ReplayError, ReplayProblem, StepView
from engine.runtime.controller import PROMISE_WEIGHT, CarState
from engine.runtime.journal import SessionRecord
from engine.runtime.loop import ControlLoop, ScenarioOf
from engine.validate import choice

__all__ = ["ModelPredictive", "OfflineOptimal", "SITE_CABINET"]

SITE_CABINET = "SITE"
EPS_KWH = 1e-6
CLOCK0 = datetime(2000, 1, 1, tzinfo=timezone.utc)
"""The time of step 0 on the control loop's clock (the loop runs in time, the replay in steps)."""


def _scenario(
    problem: ReplayProblem,
    t: int,
    horizon: int,
    cars: list[int],
    prices: bool = True,
    sessions: tuple[SessionSpec, ...] = (),
) -> Scenario:
    """A one-cabinet scenario starting at step ``t`` with one charge point per car.

    Parameters
    ----------
    problem : ReplayProblem
    t : int
        Replay step that becomes the scenario's step 0.
    horizon : int
        Scenario steps.
    cars : list of int
        Cars that get a charge point ``cp<i>`` rated at their ``max_kw``.
    prices : bool
        Pass the tariff's prices (else zero: the engine's cost stage is skipped).
    sessions : tuple of SessionSpec
        The scenario's sessions (``plan_cabinet`` may also be given them directly).

    Returns
    -------
    Scenario
    """
    price = problem.price_per_kwh[t : t + horizon] if prices else np.zeros(0)
    if price.size < horizon:  # no prices, or (never in practice) beyond the window
        price = np.concatenate([price, np.full(horizon - price.size, price[-1] if price.size else 0.0)])
    return Scenario(
        step_minutes=problem.step_minutes,
        horizon_steps=int(horizon),
        start="",
        price_per_kwh=np.asarray(price, dtype=float),
        cabinets=(CabinetSpec(id=SITE_CABINET, threshold_kw=float(problem.threshold_kw)),),
        charge_points=tuple(
            ChargePointSpec(id=f"cp{i}", cabinet=SITE_CABINET, rated_kw=float(problem.max_kw[i])) for i in cars
        ),
        sessions=tuple(sessions),
    )


class ModelPredictive:
    """Online re-planning with the engine and kiosk-style guarantees, through the live control loop.

    Parameters
    ----------
    replan : {"events", "every"}
        Re-plan only when something changes (default) or at every step.
    tiebreak : {"promises", "deadline", "engine"}
        Split the planned load among cars promises first, each group by deadline (default), by
        deadline only, or keep the engine's split (docs/promises.md, "Promises first").
    prices : bool
        Give the engine the tariff's prices (default False: price-blind, see ``docs/replay.md``).
    quote_order : {"need", "arrival"}
        Order in which drivers arriving at the same step are quoted: smallest request first
        (default) or in data order (real connection time).
    policy : str
        The promise policy (:data:`engine.promises.POLICIES`; default ``admit``).
    forecast_days : int
        Past days of the same kind the policy's forecast averages over.
    redecide_minutes : float or None
        Also run the policy (upgrades only) this often between arrivals while a car charges
        best effort; None (default): only at arrivals (measured: no gain, ``docs/promises.md``).
    reserve : float
        How many times the forecast's expected drivers the policy keeps room for (default
        :data:`engine.promises.policy.RESERVE`).
    stay : {"learned", "stated"}
        Plan a car promised nothing by its likely departure learned from the days before
        (default, as the live site: :class:`engine.promises.stay.StayModel`; such a car is never
        promised anything afterwards), or by its stated departure. Measured in
        ``docs/promises.md``, "Learned stays".

    Attributes
    ----------
    solve_seconds : list of float
        Wall time of every decision that called the engine (quotes + plan) [s].
    promised_kwh : ndarray
        What each driver was promised [kWh] (at arrival, or raised later by an upgrade).
    likely_kwh : ndarray
        The policy's "likely" estimate given at arrival [kWh].
    upgrades : int
        Promises raised for cars present.
    policy_seconds : list of (int, int, float)
        Per decision: step, cars present and requesting, wall time of forecast + policy [s].
    promise_order : list of int
        The cars in the order they were promised (see :mod:`engine.replay.promise_bound`).
    replans : int
        Number of plans computed.
    quotes : int
        Number of quotes that needed the engine (the rest were decided without it: when
        every car present fits at full rate under the threshold).
    tiebreak_fallbacks : int
        Re-plans where the deadline split did not solve and the engine's split was kept.
    loop : ControlLoop
        The control loop (the live site's), with promises planned by the stated departure
        (no margin: the replay's cars take exactly what they are given).
    """

    name = "mpc"
    respects_threshold = True

    def __init__(
        self,
        replan: str = "events",
        tiebreak: str = "promises",
        prices: bool = False,
        quote_order: str = "need",
        policy: str = DEFAULT_POLICY,
        forecast_days: int = DEFAULT_DAYS,
        redecide_minutes: float | None = None,
        reserve: float = RESERVE,
        stay: str = "learned",
    ) -> None:
        strategy_options(replan, tiebreak, quote_order, policy, fields=("replan", "tiebreak", "quote_order", "policy"))
        choice(stay, "stay", STAYS, error=ReplayError)
        self.stay = stay
        self.policy = policy
        self.forecast_days = int(forecast_days)
        self.redecide_minutes = redecide_minutes
        self.reserve = float(reserve)
        self.replan = replan
        self.tiebreak = tiebreak
        self.quote_order = quote_order
        self.prices = bool(prices)
        self.solve_seconds: list[float] = []
        self.replans = 0
        self.quotes = 0
        self.loop = self._new_loop(5, None)

    def _new_loop(self, step_minutes: int, horizon_steps: int | None) -> ControlLoop:
        """The live site's control loop as the replay runs it: promises planned by the stated
        departure (no margin), 1e-6 kWh counted as nothing, overdue cars served first."""
        return ControlLoop(step_minutes, margin=False, split=self.tiebreak != "engine",
                           promise_weight=PROMISE_WEIGHT if self.tiebreak == "promises" else 1.0,
                           horizon_steps=horizon_steps,
                           eps_kwh=EPS_KWH, overdue_first=True)

    @property
    def tiebreak_fallbacks(self) -> int:
        """Re-plans where the deadline split did not solve (the engine's split was kept)."""
        return self.loop.split_fallbacks

    def reset(self, problem: ReplayProblem) -> None:
        """Start a new replay."""
        self.problem = problem
        self.solve_seconds = []
        self.replans = 0
        self.quotes = 0
        self.promised_kwh = np.zeros(problem.n)
        self.likely_kwh = np.zeros(problem.n)
        self.promise_order: list[int] = []
        self.upgrades = 0
        self.policy_seconds: list[tuple[int, int, float]] = []
        self._last_decision = -(10**9)
        self.redecide_steps = (10**9 if self.redecide_minutes is None
                               else max(1, int(round(self.redecide_minutes / problem.step_minutes))))
        self.loop = self._new_loop(problem.step_minutes, max(int(problem.horizon_steps), 1))
        self._cars: dict[int, CarState] = {}
        # the departure each car is planned by: the stated one, or a learned later one (``stay``)
        self.plan_deadline = np.asarray(problem.deadline_step, dtype=int).copy()
        self._stays = (StayModel.from_history(problem.history, problem.start, tz=problem.start.tzinfo)
                       if self.stay == "learned" and problem.start is not None and problem.history else None)

    # -- the cars as the control loop sees them --------------------------------------------

    def _now(self, t: int) -> datetime:
        """Step ``t`` on the control loop's clock."""
        return CLOCK0 + timedelta(minutes=self.problem.step_minutes * int(t))

    def _car(self, i: int, view: StepView) -> CarState:
        """Car ``i``: its session (told deadline, need, promise) and what it took so far."""
        c = self._cars.get(i)
        if c is None:
            pr = self.problem
            s = SessionRecord(id=str(i), cp=f"cp{i}", cabinet=SITE_CABINET, arrival=self._now(int(pr.arrival_step[i])),
                              departure=self._now(int(pr.deadline_step[i])), requested_kwh=float(pr.demand_kwh[i]),
                              guaranteed_kwh=float(self.promised_kwh[i]))
            c = self._cars[i] = CarState(s, rated_kw=float(pr.max_kw[i]))
        c.delivered_kwh = float(view.delivered_kwh[i])
        return c

    def _promise(self, i: int, kwh: float, t: int, view: StepView) -> None:
        """Car ``i`` is promised ``kwh`` in all [kWh] by the end of the window it was quoted over.

        That is its told deadline, or the next step for a car already past it (an upgrade of a
        car that stays longer than it said: the policy quoted it over the next step).
        """
        self.promised_kwh[i] = kwh
        c = self._car(i, view)
        c.session = dataclasses.replace(c.session, guaranteed_kwh=float(kwh),
                                        departure=self._now(self._window_end(i, t)))

    def _in_promise(self, i: int, t: int, view: StepView) -> bool:
        return self._car(i, view).in_promise(self._now(t), EPS_KWH)

    def _scenario_of(self, t: int) -> ScenarioOf:
        """The loop's scenario at step ``t``: one charge point per car planned."""

        def build(now: datetime, specs, uncontrolled_kw: float) -> Scenario:
            horizon = max([1] + [s.departure_step for s in specs])
            return _scenario(self.problem, t, horizon, [int(s.id) for s in specs], self.prices)

        return build

    # -- the promise policy ----------------------------------------------------------------

    def _window_end(self, i: int, t: int) -> int:
        """The deadline the planner uses for car ``i`` at step ``t`` (exclusive)."""
        told = int(self.plan_deadline[i])
        return told if told > t else t + 1

    def _forecast(self, t: int, horizon: int):
        """Expected arrivals after step ``t`` from the sessions that have left by then."""
        pr = self.problem
        if pr.start is None or not pr.history or self.policy in ("fcfs", "admit_now"):
            return None
        now = pr.start + timedelta(minutes=pr.step_minutes * t)
        return forecast_from_history(pr.history, now, now, pr.step_minutes, horizon, days=self.forecast_days)

    def _waiting(self, t: int, view: StepView) -> bool:
        """Whether a car present has need beyond its promise."""
        for i in view.present:
            rem = float(view.remaining_kwh[i])
            if rem <= EPS_KWH or self._window_end(int(i), t) <= t + 1:
                continue
            owed = float(self.promised_kwh[i] - view.delivered_kwh[i]) if self._in_promise(int(i), t, view) else 0.0
            if rem > owed + 1e-3:
                return True
        return False

    def _decide(self, t: int, view: StepView, others: list[int]) -> None:
        """Promises of the cars arriving at ``t`` (and raised ones of present cars): the policy."""
        pr = self.problem
        arrived = self._arrival_order(view)
        cars = [j for j in others if view.remaining_kwh[j] > EPS_KWH]
        present: list[SessionSpec] = []
        overdue: list[SessionSpec] = []  # past their stated departure: see engine.promises.overdue
        for j in cars:
            if self.plan_deadline[j] <= t:
                overdue.append(SessionSpec(id=f"{j}+", cp=f"cp{j}", arrival_step=0, departure_step=1,
                                           energy_kwh=float(view.remaining_kwh[j])))
                continue
            hi = self._window_end(j, t) - t
            rem = float(view.remaining_kwh[j])
            g = 0.0
            if self._in_promise(j, t, view):
                g = min(max(float(self.promised_kwh[j] - view.delivered_kwh[j]), 0.0), rem)
            if g > EPS_KWH:
                present.append(SessionSpec(id=str(j), cp=f"cp{j}", arrival_step=0, departure_step=hi, energy_kwh=g,
                                           guaranteed=True))
            if rem - g > EPS_KWH:
                present.append(SessionSpec(id=f"{j}+", cp=f"cp{j}", arrival_step=0, departure_step=hi,
                                           energy_kwh=rem - g))
        reqs = [SessionSpec(id=str(i), cp=f"cp{i}", arrival_step=0, departure_step=self._window_end(i, t) - t,
                            energy_kwh=float(view.remaining_kwh[i])) for i in arrived]
        horizon = max([s.departure_step for s in present + reqs] + [1])
        sc = _scenario(pr, t, horizon, cars + arrived, self.prices)
        t_pol = time.perf_counter()
        forecast = self._forecast(t, horizon)
        res = decide_promises(sc, SITE_CABINET, present, reqs, forecast, self.policy, overdue=overdue,
                              reserve=self.reserve)
        self.policy_seconds.append((t, len(cars) + len(arrived), time.perf_counter() - t_pol))
        for i, d in zip(arrived, res.decisions):
            self._promise(i, d.promised_kwh, t, view)
            self.likely_kwh[i] = d.likely_kwh
            self.promise_order.append(i)
        for i in arrived:
            self._learn_stay(i, view)
        for cp, kwh in res.upgrades.items():
            j = int(cp[2:])
            if j in self.learned:  # planned by a learned departure: never promised
                continue
            self._promise(j, float(view.delivered_kwh[j]) + kwh, t, view)
            self.upgrades += 1
        if res.milp_status or any(d.promised_kwh > EPS_KWH for d in res.decisions):
            self.quotes += 1

    def _learn_stay(self, i: int, view: StepView) -> None:
        """Plan car ``i``, promised nothing, by its likely departure (``stay="learned"``)."""
        pr = self.problem
        if self._stays is None or self.promised_kwh[i] > EPS_KWH or pr.start is None:
            return
        a, d = int(pr.arrival_step[i]), int(pr.deadline_step[i])
        step = timedelta(minutes=pr.step_minutes)
        likely = self._stays.likely_departure(pr.start + a * step, pr.start + d * step)
        e = int(math.floor((likely - pr.start) / step + 1e-9))
        if e > d:
            self.plan_deadline[i] = e
            self._car(i, view).likely_departure = self._now(e)

    @property
    def learned(self) -> set[int]:
        """The cars planned by a learned departure (later than the one they stated)."""
        return {int(i) for i in np.flatnonzero(self.plan_deadline != self.problem.deadline_step)}

    def _arrival_order(self, view: StepView) -> list[int]:
        """The cars arriving at this step in the order they are quoted."""
        arrived = [int(i) for i in view.arrived]
        if self.quote_order == "need":
            arrived.sort(key=lambda i: (float(view.remaining_kwh[i]), i))
        return arrived

    def _event(self, t: int, view: StepView) -> bool:
        """An arrival, or a car leaving before its told deadline with need left (the loop's events)."""
        if view.arrived.size:
            return True
        return any(self.plan_deadline[i] > t and view.remaining_kwh[i] > EPS_KWH for i in view.departed)

    # -- Strategy protocol ---------------------------------------------------------------

    def step(self, view: StepView) -> np.ndarray:
        """Power per present car [kW] from the control loop's plan (re-planned when needed)."""
        t = view.t
        t0 = time.perf_counter()
        called = False
        for i in view.departed:
            self._cars.pop(int(i), None)
        if self.replan == "every" or self._event(t, view):
            self.loop.mark(SITE_CABINET)
        if view.arrived.size:
            arrived = set(int(i) for i in view.arrived)
            self._decide(t, view, [int(i) for i in view.present if int(i) not in arrived])
            self._last_decision = t
            called = True
        elif self.policy != "fcfs" and t - self._last_decision >= self.redecide_steps and self._waiting(t, view):
            # cars charging best effort: may they be promised their whole need now?
            self._last_decision = t
            before = self.upgrades
            self._decide(t, view, [int(i) for i in view.present])
            called = True
            if self.upgrades > before:
                self.loop.mark(SITE_CABINET)
        now = self._now(t)
        cars = [self._car(int(i), view) for i in view.present if view.remaining_kwh[i] > EPS_KWH]
        if self.loop.step(SITE_CABINET, now, cars, self._scenario_of(t)) is not None:
            self.replans += 1
            called = True
        out = np.array([self.loop.power_kw(SITE_CABINET, str(int(i)), now) for i in view.present])
        if called:
            self.solve_seconds.append(time.perf_counter() - t0)
        self.decided = called
        return out


class OfflineOptimal:
    """One engine plan of the whole window with every session known (real departures)."""

    name = "offline"
    respects_threshold = True
    plans_at_reset = True
    decided = False

    def __init__(self) -> None:
        self.solve_seconds: list[float] = []

    def reset(self, problem: ReplayProblem) -> None:
        """Plan the whole window at once."""
        self.problem = problem
        t0 = time.perf_counter()
        cars = [i for i in range(problem.n) if problem.demand_kwh[i] > EPS_KWH]
        sc = _scenario(problem, 0, max(problem.horizon_steps, 1), cars)
        specs = [
            SessionSpec(id=str(i), cp=f"cp{i}", arrival_step=int(problem.arrival_step[i]),
                        departure_step=int(problem.departure_step[i]), energy_kwh=float(problem.demand_kwh[i]))
            for i in cars
        ]
        self.power = np.zeros((problem.n, problem.horizon_steps))
        if specs:
            cab = plan_cabinet(sc, SITE_CABINET, specs)
            for i, sp in zip(cars, cab.sessions):
                self.power[i] = sp.power_kw
        self.solve_seconds = [time.perf_counter() - t0]

    def step(self, view: StepView) -> np.ndarray:
        """The plan's power at this step for the cars present [kW]."""
        return self.power[view.present, view.t]
