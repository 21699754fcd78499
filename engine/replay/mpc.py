"""The engine as a replay strategy: online ``mpc`` and the ``offline`` upper bound.

``mpc`` (model predictive control, online, no knowledge of the future):

- the drivers arriving at a step are given promises by the promise policy
  (:func:`engine.promises.decide_promises`, the kiosk's entry point; ``policy``, default
  :data:`engine.promises.DEFAULT_POLICY`), decided smallest need first (``quote_order="need"``,
  default; ``"arrival"`` keeps the data order, i.e. by real connection time). The policy sees
  the cars present (their remaining promise and need), the arriving requests, and a forecast of
  the drivers still to come today built from the site's history (:attr:`ReplayProblem.history`,
  only sessions that have left by then). ``policy="fcfs"`` is the former rule, each driver
  promised ``min(request, quote)``; ``docs/promises.md`` has the measurements. The policy may
  also raise the promise of a car present (``upgrades``);
- the engine (:func:`engine.optimize.planner.plan_cabinet`, the cheap one-cabinet entry point)
  plans the cars present over their told windows only (the plan's horizon ends at the latest
  told deadline), and cars follow the plan until the next re-plan;
- a car promised less than its need is planned as guaranteed for the promised part, then as
  best effort for the rest;
- which car takes the early capacity is a tie among the engine's optimal plans; it is broken
  by :func:`engine.optimize.tiebreak.deadline_split` (same load per step, same energy per car,
  each car early relative to its own deadline), which brings mpc to the offline optimum on
  the Caltech days measured (2019-05-06, 05-07, 10-29 and the week from 2019-05-06 at
  20-40 kW), where the engine's own split loses up to 2 pp (``tiebreak="engine"`` keeps
  the engine's split);
- by default the plan is price-blind (``prices=False``): the engine's stage 4 (minimum cost)
  would move charging into cheap hours that cars arriving later need, and online, with no
  knowledge of those cars, that costs delivered energy (4 pp on 2019-05-06 at 30 kW and
  2.7 pp over its week at 25 kW under SCE TOU-EV-8). ``prices=True`` gives the engine the
  tariff. ``energy_cost`` is always measured with the tariff;
- a car still plugged in after the deadline it told (``--departure estimated``) is no longer
  guaranteed and is planned as if leaving at the next step, every step until it leaves;
- ``replan="every"`` re-plans at every step; ``replan="events"`` (default) only when something
  changes: an arrival, a car leaving before its told deadline, a told deadline passing with the
  car still there, a promised part completed, or the end of the current plan. Between events
  the cars follow the plan exactly, so the re-plan would see the same remaining problem; the
  tests show both policies give the same KPIs on a real day.

Demands met under ``policy="fcfs"`` (measured before the promise policy existed, with the
earlier step rounding; ``bench/replay_heldout.py --policies fcfs``): with first come, first
served promises mpc met fewer demands than edf on tight days, and every car edf met and mpc
did not was certified unmeetable by :func:`engine.replay.promise_bound.promise_bound` given the
promises made before it arrived: the losses came from the promise rule, not from the plan.
That is what the admission policy changes (``docs/promises.md``).

Estimated departures, fcfs promises (``--departure estimated``; measured before the promise
policy, 150 cases): mpc delivers at least the energy of both edf and llf in only 69
of 150 (Caltech 61 of 115, JPL 8 of 35; worst -2.86 pp), while on the Caltech cases it
delivers more in total than either (29 323 kWh vs llf 29 275). Why, measured on 8 Caltech days
x 5 thresholds (shortfall at departure [kWh], edf / llf / mpc): cars leaving before their told
deadline 1136 / 1113 / 948, on time 129 / 117 / 44, cars staying past it 427 / 357 / 556. mpc
loses on the cars that overstay: a quote sees only the promises made (best-effort cars are not
in it), so at a tight threshold the capacity after a car's told deadline is promised to later
arrivals, and the overstaying car, no longer guaranteed, gets what is left (e.g. Caltech
2019-06-19 at 25 kW: a car told 55 min stays 8.4 h and gets 12.6 of 19.9 kWh; llf, which
puts it first, meets it). Which of the two heuristics wins a case depends on who really leaves
when, which no online strategy knows. Variants tried (kept none; overstaying cars do not exist
with actual departures, so none would change that mode): planning an overstaying car as
staying 1, 4 or 12 more hours, or twice its overstay so far, instead of leaving at the next
step (Caltech 52, 56, 54, 55 losing cases instead of 54; JPL at 4 and 12 h 33 and 30 instead
of 27); reserving its next hour in the quotes of later arrivals, and also guaranteeing it in
the plan (8-day shortfall totals 1545 and 1565-1568 kWh vs 1548 for the default); a
least-laxity instead of deadline split (54 losing Caltech cases, 28 kWh less). Closing the gap needs either knowledge of real
departures or promises that are not ``min(request, quote)`` on the told window.

``offline``: one plan of the whole window with every session known in advance, with its real
departure (the upper bound no online strategy beats in delivered energy).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from engine.promises import (
    DEFAULT_DAYS,
    DEFAULT_POLICY,
    POLICIES,
    Forecast,
    decide_promises,
    forecast_from_history,
)
from engine.replay.strategies import ReplayProblem, StepView
from engine.runtime.controller import split_by_deadline
from engine.optimize.scenario import CabinetSpec, ChargePointSpec, Scenario, SessionSpec

__all__ = ["ModelPredictive", "OfflineOptimal", "SITE_CABINET", "QUOTE_ORDERS"]

SITE_CABINET = "SITE"
QUOTE_ORDERS = ("need", "arrival")
EPS_KWH = 1e-6


def _plan_cabinet(scenario: Scenario, sessions: list[SessionSpec]):
    """The engine's one-cabinet plan of ``sessions`` (:func:`engine.plan_cabinet`)."""
    from engine.optimize.planner import plan_cabinet

    return plan_cabinet(scenario, SITE_CABINET, sessions)


def _quote_max_kwh(scenario: Scenario, request: SessionSpec) -> float:
    """The engine's quote ``max_kwh`` for ``request`` (:func:`engine.quote_max_kwh`)."""
    from engine.optimize.quote import quote_max_kwh

    return float(quote_max_kwh(scenario, request))


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
    """Online re-planning with the engine and kiosk-style guarantees.

    Parameters
    ----------
    replan : {"events", "every"}
        Re-plan only when something changes (default) or at every step.
    tiebreak : {"deadline", "engine"}
        Split the planned load among cars by deadline (default) or keep the engine's split.
    prices : bool
        Give the engine the tariff's prices (default False: price-blind, see module doc).
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
    forecast_scale : float
        Multiplies the forecast's weights (experiments; 1 by default).

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
    """

    name = "mpc"
    respects_threshold = True

    def __init__(
        self,
        replan: str = "events",
        tiebreak: str = "deadline",
        prices: bool = False,
        quote_order: str = "need",
        policy: str = DEFAULT_POLICY,
        forecast_days: int = DEFAULT_DAYS,
        redecide_minutes: float | None = None,
        forecast_scale: float = 1.0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
        self.policy = policy
        self.forecast_days = int(forecast_days)
        self.redecide_minutes = redecide_minutes
        self.forecast_scale = float(forecast_scale)
        if replan not in ("events", "every"):
            raise ValueError("replan must be events or every")
        if tiebreak not in ("deadline", "engine"):
            raise ValueError("tiebreak must be deadline or engine")
        if quote_order not in QUOTE_ORDERS:
            raise ValueError(f"quote_order must be one of {', '.join(QUOTE_ORDERS)}")
        self.replan = replan
        self.tiebreak = tiebreak
        self.quote_order = quote_order
        self.prices = bool(prices)
        self.tiebreak_fallbacks = 0
        self.solve_seconds: list[float] = []
        self.replans = 0
        self.quotes = 0

    def reset(self, problem: ReplayProblem) -> None:
        """Start a new replay."""
        self.problem = problem
        self.solve_seconds = []
        self.replans = 0
        self.quotes = 0
        self.tiebreak_fallbacks = 0
        self.promised_kwh = np.zeros(problem.n)
        self.likely_kwh = np.zeros(problem.n)
        self.promise_order: list[int] = []
        self.upgrades = 0
        self.policy_seconds: list[tuple[int, int, float]] = []
        self._last_decision = -(10**9)
        self.redecide_steps = (10**9 if self.redecide_minutes is None
                               else max(1, int(round(self.redecide_minutes / problem.step_minutes))))
        self.in_guarantee = np.zeros(problem.n, dtype=bool)
        self._plan_t0 = 0
        self._plan_end = -1
        self._plan: dict[int, np.ndarray] = {}

    # -- helpers -------------------------------------------------------------------------

    def _window_end(self, i: int, t: int) -> int:
        """The deadline the planner uses for car ``i`` at step ``t`` (exclusive)."""
        told = int(self.problem.deadline_step[i])
        return told if told > t else t + 1

    def _spec(self, i: int, t: int, view: StepView) -> SessionSpec | None:
        remaining = float(view.remaining_kwh[i])
        if remaining <= EPS_KWH:
            return None
        if self.in_guarantee[i]:
            energy = max(float(self.promised_kwh[i] - view.delivered_kwh[i]), 0.0)
            energy = min(energy, remaining)
            guaranteed = True
        else:
            energy, guaranteed = remaining, False
        return SessionSpec(
            id=str(i), cp=f"cp{i}", arrival_step=0, departure_step=self._window_end(i, t) - t,
            energy_kwh=energy, guaranteed=guaranteed,
        )

    def _forecast(self, t: int, horizon: int):
        """Expected arrivals after step ``t`` from the sessions that have left by then."""
        pr = self.problem
        if pr.start is None or not pr.history or self.policy in ("fcfs", "admit_now"):
            return None
        from datetime import timedelta

        now = pr.start + timedelta(minutes=pr.step_minutes * t)
        fc = forecast_from_history(pr.history, now, now, pr.step_minutes, horizon, days=self.forecast_days)
        if self.forecast_scale != 1.0:
            fc = Forecast(tuple(dataclasses.replace(a, weight=a.weight * self.forecast_scale) for a in fc.arrivals),
                          fc.days_used, fc.dates)
        return fc

    def _waiting(self, t: int, view: StepView) -> bool:
        """Whether a car present has need beyond its promise."""
        for i in view.present:
            rem = float(view.remaining_kwh[i])
            if rem <= EPS_KWH or self._window_end(int(i), t) <= t + 1:
                continue
            owed = float(self.promised_kwh[i] - view.delivered_kwh[i]) if self.in_guarantee[i] else 0.0
            if rem > owed + 1e-3:
                return True
        return False

    def _decide(self, t: int, view: StepView, others: list[int]) -> None:
        """Promises of the cars arriving at ``t`` (and raised ones of present cars): the policy."""
        pr = self.problem
        arrived = self._arrival_order(view)
        cars = [j for j in others if view.remaining_kwh[j] > EPS_KWH]
        present: list[SessionSpec] = []
        for j in cars:
            hi = self._window_end(j, t) - t
            rem = float(view.remaining_kwh[j])
            g = 0.0
            if self.in_guarantee[j]:
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
        res = decide_promises(sc, SITE_CABINET, present, reqs, forecast, self.policy)
        self.policy_seconds.append((t, len(cars) + len(arrived), time.perf_counter() - t_pol))
        for i, d in zip(arrived, res.decisions):
            self.promised_kwh[i] = d.promised_kwh
            self.likely_kwh[i] = d.likely_kwh
            self.promise_order.append(i)
            self.in_guarantee[i] = d.promised_kwh > EPS_KWH
        for cp, kwh in res.upgrades.items():
            j = int(cp[2:])
            self.promised_kwh[j] = float(view.delivered_kwh[j]) + kwh
            self.in_guarantee[j] = True
            self.upgrades += 1
        if res.milp_status or any(d.promised_kwh > EPS_KWH for d in res.decisions):
            self.quotes += 1

    def _replan(self, t: int, view: StepView) -> None:
        pr = self.problem
        cars = [int(i) for i in view.present]
        specs = [s for s in (self._spec(i, t, view) for i in cars) if s is not None]
        self._plan = {}
        if not specs:
            self._plan_t0, self._plan_end = t, t
            return
        horizon = max(s.departure_step for s in specs)
        used = [int(s.id) for s in specs]
        sc = _scenario(pr, t, horizon, used, self.prices)
        cab = _plan_cabinet(sc, specs)
        if self.tiebreak == "deadline":  # the live loop's seam: plan -> powers (engine.runtime.controller)
            powers, ok = split_by_deadline(sc, specs, cab)
            self.tiebreak_fallbacks += not ok
        else:
            powers = {sp.id: np.asarray(sp.power_kw, dtype=float) for sp in cab.sessions}
        for s in specs:
            self._plan[int(s.id)] = powers[s.id]
        self._plan_t0, self._plan_end = t, t + horizon
        self.replans += 1

    def _arrival_order(self, view: StepView) -> list[int]:
        """The cars arriving at this step in the order they are quoted."""
        arrived = [int(i) for i in view.arrived]
        if self.quote_order == "need":
            arrived.sort(key=lambda i: (float(view.remaining_kwh[i]), i))
        return arrived

    def _changed(self, t: int, view: StepView) -> bool:
        pr = self.problem
        if view.arrived.size:
            return True
        for i in view.departed:
            if pr.deadline_step[i] > t and view.remaining_kwh[i] > EPS_KWH:
                return True  # left before its told deadline with a plan ahead
        for i in view.present:
            if view.remaining_kwh[i] <= EPS_KWH:
                continue
            if pr.deadline_step[i] <= t:
                return True  # still here after the deadline it told
            if t >= self._plan_end:
                return True
        return False

    # -- Strategy protocol ---------------------------------------------------------------

    def step(self, view: StepView) -> np.ndarray:
        """Power per present car [kW] from the current plan (re-planned when needed)."""
        pr = self.problem
        t = view.t
        t0 = time.perf_counter()
        called = False
        # guarantees that lapse: deadline passed, or promised part delivered (the rest of the
        # need, if any, becomes best effort: a change)
        lapsed = False
        for i in view.present:
            if self.in_guarantee[i] and (
                pr.deadline_step[i] <= t or view.delivered_kwh[i] >= self.promised_kwh[i] - EPS_KWH
            ):
                self.in_guarantee[i] = False
                lapsed = lapsed or view.remaining_kwh[i] > EPS_KWH
        changed = self.replan == "every" or lapsed or self._changed(t, view)
        if view.arrived.size:
            arrived = set(int(i) for i in view.arrived)
            others = [int(i) for i in view.present if int(i) not in arrived]
            self._decide(t, view, others)
            self._last_decision = t
            called = True
        elif self.policy != "fcfs" and t - self._last_decision >= self.redecide_steps and self._waiting(t, view):
            # cars charging best effort: may they be promised their whole need now?
            self._last_decision = t
            before = self.upgrades
            self._decide(t, view, [int(i) for i in view.present])
            called = True
            changed = changed or self.upgrades > before
        if changed:
            self._replan(t, view)
            called = called or bool(self._plan)
        out = np.zeros(view.present.size)
        k = t - self._plan_t0
        for j, i in enumerate(view.present):
            p = self._plan.get(int(i))
            if p is not None and 0 <= k < p.size:
                out[j] = p[k]
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
            cab = _plan_cabinet(sc, specs)
            for i, sp in zip(cars, cab.sessions):
                self.power[i] = sp.power_kw
        self.solve_seconds = [time.perf_counter() - t0]

    def step(self, view: StepView) -> np.ndarray:
        """The plan's power at this step for the cars present [kW]."""
        return self.power[view.present, view.t]
