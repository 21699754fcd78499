"""The step simulator: real sessions through one strategy, one site cabinet.

The whole site is one cabinet with import limit ``threshold_kw``; every charge point is
rated ``rated_kw``. A car is present from its arrival step to its real departure step,
whatever deadline it told. At each step the strategy proposes a power per present car; the
simulator applies the physics (no power outside the car's presence, at most its rating, at
most its remaining need) and records the load. It never enforces the threshold: a strategy
that claims to respect it but exceeds it shows up in ``overload_kwh`` (excesses within the
LP solver's tolerance, 1e-6 relative, are scaled away).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.promises import DEFAULT_POLICY, PastSession
from engine.replay.acn import LoadReport
from engine.replay.kpi import compute_kpis, session_met
from engine.replay.loader import load_window
from engine.replay.options import run_options
from engine.replay.problem import ReplayProblem, StepView, Strategy
from engine.replay.strategies import make_strategy
from engine.replay.tariff import DEFAULT_TARIFF, load_tariff
from engine.replay.window import ReplayWindow

__all__ = [
    "Progress",
    "ReplayConfig",
    "ReplayResult",
    "build_problem",
    "simulate",
    "run_replay",
    "replay",
    "DEFAULT_THRESHOLD_KW",
]

Progress = Callable[[float, str], None]
"""Progress callback: ``(fraction done in [0, 1], message)``."""

DEFAULT_THRESHOLD_KW = 50.0
THRESHOLD_TOL_REL = 1e-6


@dataclass(frozen=True)
class ReplayConfig:
    """How the site is modelled and what the strategies are told.

    Parameters
    ----------
    threshold_kw : float
        The site cabinet's import limit [kW].
    rated_kw : float
        Every charge point's rating [kW].
    departure : {"actual", "estimated"}
        The deadline strategies are told (the car always leaves at its real departure).
    tariff : str or None
        Tariff name in ``data/tariffs`` (energy cost, and the engine's stage-4 prices), or
        None for no price.
    replan : {"events", "every"}
        When ``mpc`` re-plans: only when something changes (default, shown equivalent in
        the tests) or at every step.
    mpc_prices : bool
        Give ``mpc`` the tariff (engine stage 4 minimises cost online); default price-blind.
    tiebreak : {"promises", "deadline", "engine"}
        How ``mpc`` splits the planned load among cars (see :mod:`engine.replay.mpc`).
    quote_order : {"need", "arrival"}
        Order in which ``mpc`` quotes drivers arriving at the same step: smallest request
        first (default) or in data order (real connection time).
    promise_policy : str
        ``mpc``'s promise policy (:data:`engine.promises.POLICIES`, default
        :data:`engine.promises.DEFAULT_POLICY`).
    """

    threshold_kw: float = DEFAULT_THRESHOLD_KW
    rated_kw: float = 6.6
    departure: str = "actual"
    tariff: str | None = DEFAULT_TARIFF
    replan: str = "events"
    mpc_prices: bool = False
    tiebreak: str = "promises"
    quote_order: str = "need"
    promise_policy: str = DEFAULT_POLICY

    def validate(self) -> None:
        """Raise :class:`ReplayError` naming the option that is wrong (:func:`engine.replay.options.run_options`)."""
        run_options(self.threshold_kw, self.rated_kw, self.departure, self.replan, self.tiebreak, self.quote_order,
                    self.promise_policy)


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """One strategy's replay.

    Parameters
    ----------
    algorithm : str
    kpis : dict
        The spec's KPI object.
    problem : ReplayProblem
        What was simulated (windows, deadlines, demands, prices).
    station_ids : list of str
    power_kw : ndarray, shape (n, T)
        Power each car drew at each step [kW].
    delivered_kwh : ndarray
        Energy each car got [kWh].
    load_kw : ndarray
        Site load per step [kW].
    step_times : list of datetime
        Local start of every step.
    report : LoadReport
    solve_seconds : list of float
        Time of each scheduling decision [s] (:func:`simulate`).
    promised_kwh, likely_kwh : ndarray or None
        ``mpc``: what each driver was promised, and the policy's "likely" estimate [kWh].
    """

    algorithm: str
    kpis: dict
    problem: ReplayProblem
    station_ids: list[str]
    power_kw: np.ndarray
    delivered_kwh: np.ndarray
    load_kw: np.ndarray
    step_times: list[datetime]
    report: LoadReport
    solve_seconds: list[float] = field(default_factory=list)
    promised_kwh: np.ndarray | None = None
    likely_kwh: np.ndarray | None = None

    def sessions_table(self) -> list[dict]:
        """Per-session results, one dict per car (for tables and CSV)."""
        pr = self.problem
        met = session_met(pr.demand_kwh, self.delivered_kwh)
        return [
            {
                "algorithm": self.algorithm,
                "session_id": pr.session_ids[i],
                "station_id": self.station_ids[i],
                "arrival": self.step_times[int(pr.arrival_step[i])].isoformat(),
                "departure_step": int(pr.departure_step[i]),
                "arrival_step": int(pr.arrival_step[i]),
                "deadline_step": int(pr.deadline_step[i]),
                "demand_kwh": round(float(pr.demand_kwh[i]), 4),
                "delivered_kwh": round(float(self.delivered_kwh[i]), 4),
                "met": bool(met[i]),
                "promised_kwh": None if self.promised_kwh is None else round(float(self.promised_kwh[i]), 4),
                "likely_kwh": None if self.likely_kwh is None else round(float(self.likely_kwh[i]), 4),
            }
            for i in range(pr.n)
        ]

    def load_table(self) -> list[dict]:
        """Site load per step (for charts and CSV)."""
        return [
            {
                "algorithm": self.algorithm,
                "step": k,
                "time": self.step_times[k].isoformat(),
                "load_kw": round(float(self.load_kw[k]), 4),
                "threshold_kw": self.problem.threshold_kw,
                "price_per_kwh": float(self.problem.price_per_kwh[k]),
            }
            for k in range(self.problem.horizon_steps)
        ]

    def detail(self) -> dict:
        """KPIs, per-session results and the load series as one JSON-able object."""
        return {"kpis": dict(self.kpis), "sessions": self.sessions_table(), "load": self.load_table(),
                "report": self.report.to_dict()}


def build_problem(window: ReplayWindow, config: ReplayConfig) -> ReplayProblem:
    """Turn a loaded window and a configuration into the simulator's problem.

    Parameters
    ----------
    window : ReplayWindow
    config : ReplayConfig

    Returns
    -------
    ReplayProblem
    """
    config.validate()
    T = window.horizon_steps
    if config.tariff:
        price = load_tariff(config.tariff).prices(window.step_times())
    else:
        price = np.zeros(T)
    deadline = window.departure_step if config.departure == "actual" else window.estimated_step
    history = []
    for h in window.history:
        stay_h = (h.departure - h.arrival).total_seconds() / 3600.0
        need = h.delivered_kwh if window.demand == "delivered" else h.requested_kwh
        # the departure the driver told: none without driver input when stated departures are replayed
        told = h.departure if config.departure == "actual" else (h.estimated_departure if h.claimed else None)
        history.append(PastSession(h.arrival, h.departure, float(min(need, config.rated_kw * stay_h)), told))
    return ReplayProblem(
        step_minutes=window.step_minutes,
        horizon_steps=T,
        threshold_kw=float(config.threshold_kw),
        max_kw=np.full(window.n, float(config.rated_kw)),
        arrival_step=window.arrival_step.astype(int),
        departure_step=window.departure_step.astype(int),
        deadline_step=np.asarray(deadline, dtype=int).copy(),
        demand_kwh=window.demand_kwh.astype(float),
        price_per_kwh=price,
        session_ids=list(window.session_ids),
        start=window.start,
        history=tuple(history),
    )


def simulate(
    problem: ReplayProblem, strategy: Strategy, progress: Progress | None = None
) -> tuple[np.ndarray, float]:
    """Step a strategy through a problem.

    Parameters
    ----------
    problem : ReplayProblem
    strategy : Strategy
    progress : callable, optional
        Called with ``(fraction, message)`` about 50 times during the run.

    Returns
    -------
    power_kw : ndarray, shape (n, T)
        Power each car drew at each step [kW].
    wall_seconds : float
        Wall time of the run, ``reset`` included [s].

    Notes
    -----
    Sets ``strategy.decision_seconds``: the wall time of each scheduling decision [s] (the
    plan made at ``reset`` when the strategy has ``plans_at_reset``, else each ``step`` call
    after which ``strategy.decided`` is true; a strategy without that attribute decides at
    every step with cars present).
    """
    t_start = time.perf_counter()
    n, T, dt = problem.n, problem.horizon_steps, problem.dt_hours
    strategy.reset(problem)
    # one scheduling decision, timed the same way for every strategy: the plan made at
    # reset (offline strategies) or one call of ``step`` that decided (heuristics: every
    # step with cars present; mpc: steps that re-planned, policy and quotes included)
    decisions: list[float] = []
    if getattr(strategy, "plans_at_reset", False):
        decisions.append(time.perf_counter() - t_start)
    power = np.zeros((n, T))
    remaining = problem.demand_kwh.astype(float).copy()
    delivered = np.zeros(n)
    a, d = problem.arrival_step, problem.departure_step
    order = np.argsort(a, kind="stable")
    by_arrival: dict[int, list[int]] = {}
    by_departure: dict[int, list[int]] = {}
    for i in order:
        by_arrival.setdefault(int(a[i]), []).append(int(i))
        by_departure.setdefault(int(d[i]), []).append(int(i))
    present: list[int] = []
    every = max(1, T // 50)
    empty = np.zeros(0, dtype=int)
    for t in range(T):
        gone = by_departure.get(t, [])
        if gone:
            gone_set = set(gone)
            present = [i for i in present if i not in gone_set]
        came = by_arrival.get(t, [])
        present.extend(came)
        idx = np.asarray(present, dtype=int) if present else empty
        view = StepView(
            t=t,
            present=idx,
            remaining_kwh=remaining,
            delivered_kwh=delivered,
            arrived=np.asarray(came, dtype=int) if came else empty,
            departed=np.asarray(gone, dtype=int) if gone else empty,
        )
        if idx.size:
            ts = time.perf_counter()
            p = np.asarray(strategy.step(view), dtype=float)
            if getattr(strategy, "decided", True):
                decisions.append(time.perf_counter() - ts)
            if p.shape != idx.shape:
                raise RuntimeError(f"{strategy.name}: returned {p.shape} powers for {idx.size} cars")
            p = np.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0)
            p = np.clip(p, 0.0, problem.max_kw[idx])
            p = np.minimum(p, np.maximum(remaining[idx], 0.0) / dt)
            total = float(p.sum())
            limit = problem.threshold_kw
            if strategy.respects_threshold and total > limit and total <= limit * (1 + THRESHOLD_TOL_REL) + 1e-9:
                p *= limit / total
            power[idx, t] = p
            got = p * dt
            remaining[idx] -= got
            delivered[idx] += got
        if progress is not None and (t % every == 0 or t == T - 1):
            progress((t + 1) / T, f"{strategy.name}: step {t + 1}/{T}")
    strategy.decision_seconds = decisions
    return power, time.perf_counter() - t_start


def run_replay(
    window: ReplayWindow,
    algorithm: str,
    config: ReplayConfig | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay a window through one strategy and compute its KPIs.

    Parameters
    ----------
    window : ReplayWindow
        Sessions on the step grid (:func:`engine.replay.loader.load_window`).
    algorithm : str
        One of ``uncontrolled, round_robin, edf, llf, mpc, offline, offline_met``.
    config : ReplayConfig, optional
    progress : callable, optional
        ``(fraction, message)`` callback.

    Returns
    -------
    ReplayResult
    """
    config = config or ReplayConfig()
    config.validate()
    options = (
        {"replan": config.replan, "prices": config.mpc_prices, "tiebreak": config.tiebreak,
         "quote_order": config.quote_order, "policy": config.promise_policy}
        if algorithm == "mpc" else {}
    )
    strategy = make_strategy(algorithm, **options)
    problem = build_problem(window, config)
    power, wall = simulate(problem, strategy, progress)
    load = power.sum(axis=0)
    delivered = power.sum(axis=1) * problem.dt_hours
    promised = getattr(strategy, "promised_kwh", None) if algorithm == "mpc" else None
    stayed = problem.departure_step >= problem.deadline_step
    kpis = compute_kpis(
        algorithm,
        problem.demand_kwh,
        delivered,
        load,
        problem.threshold_kw,
        problem.price_per_kwh,
        problem.dt_hours,
        strategy.decision_seconds,
        wall,
        requested_kwh=window.need_kwh if window.need_kwh is not None else problem.demand_kwh,
        promised_kwh=promised,
        stayed=stayed,
    )
    return ReplayResult(
        algorithm=algorithm,
        kpis=kpis,
        problem=problem,
        station_ids=list(window.station_ids),
        power_kw=power,
        delivered_kwh=delivered,
        load_kw=load,
        step_times=window.step_times(),
        report=window.report,
        solve_seconds=list(strategy.decision_seconds),
        promised_kwh=None if promised is None else np.asarray(promised, dtype=float).copy(),
        likely_kwh=None if promised is None else np.asarray(strategy.likely_kwh, dtype=float).copy(),
    )


def replay(
    algorithm: str,
    *,
    sessions: Sequence[str | Path] | None = None,
    start: date | str = "2019-05-06",
    days: int = 1,
    step_minutes: int = 5,
    threshold_kw: float = DEFAULT_THRESHOLD_KW,
    rated_kw: float = 6.6,
    departure: str = "actual",
    demand: str = "delivered",
    tariff: str | None = DEFAULT_TARIFF,
    replan: str = "events",
    mpc_prices: bool = False,
    tiebreak: str = "promises",
    quote_order: str = "need",
    promise_policy: str = DEFAULT_POLICY,
    journal: str | Path | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Load sessions and replay them through one strategy (the one-call API).

    Parameters
    ----------
    algorithm : str
        ``uncontrolled, round_robin, edf, llf, mpc, offline`` or ``offline_met``.
    sessions : sequence of path, optional
        ACN-Data CSV(.gz) files; default the shipped Caltech files.
    start : date or str
        First local day (America/Los_Angeles).
    days : int
        Number of days.
    step_minutes : int
        Step [min].
    threshold_kw : float
        Site import limit [kW].
    rated_kw : float
        Charge point rating [kW].
    departure : {"actual", "estimated"}
        Deadline the strategies are told.
    demand : {"delivered", "requested"}
        Which energy counts as the driver's need (see :mod:`engine.replay.window`).
    tariff : str or None
        Tariff name, or None.
    replan : {"events", "every"}
        ``mpc`` re-planning policy.
    mpc_prices : bool
        Give ``mpc`` the tariff.
    tiebreak : {"promises", "deadline", "engine"}
        ``mpc``'s split of the planned load among cars.
    quote_order : {"need", "arrival"}
        Order in which ``mpc`` quotes same-step arrivals.
    promise_policy : str
        ``mpc``'s promise policy (:data:`engine.promises.POLICIES`).
    journal : path, optional
        The live site's kiosk journal (``EV_STATE_DIR/sessions.jsonl``) to replay, alone or
        with ``sessions``.
    progress : callable, optional

    Returns
    -------
    ReplayResult
    """
    config = ReplayConfig(threshold_kw=threshold_kw, rated_kw=rated_kw, departure=departure,
                          tariff=tariff, replan=replan, mpc_prices=mpc_prices, tiebreak=tiebreak,
                          quote_order=quote_order, promise_policy=promise_policy)
    config.validate()
    window = load_window(sessions, start, days, step_minutes, rated_kw, demand, journal=journal)
    return run_replay(window, algorithm, config, progress)
