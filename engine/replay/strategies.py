"""Online charging strategies the replay steps through, one decision per step.

Every strategy sees only what an operator would know at step ``t``
(:class:`StepView`: the cars present, their remaining need, the deadline they told) and
returns a power per car. The simulator (:mod:`engine.replay.simulate`) then applies the
physics: no power outside a car's presence, at most its rating, at most its remaining need.

- ``uncontrolled``: full rate from plug-in until full; the threshold is ignored.
- ``round_robin``: the threshold shared equally among the cars present (water-filling: a
  car that needs less than the equal share takes only what it needs and the rest is shared
  among the others) - the continuous limit of acnportal's RoundRobin, which hands out
  rate increments in turn.
- ``edf``: earliest (told) deadline first, each car in turn given up to its rate and remaining
  need within what is left of the threshold (acnportal's SortedSchedulingAlgo).
- ``llf``: least laxity first, laxity = steps to the told deadline - steps needed at full rate.
- ``mpc`` and ``offline`` use the engine's planner (:mod:`engine.replay.mpc`);
  ``offline_met`` is the hindsight maximum of demands met (:mod:`engine.replay.offline_met`).
"""

from __future__ import annotations

import time

import numpy as np

from engine.replay.mpc import ModelPredictive, OfflineOptimal
from engine.replay.offline_met import OfflineMet
from engine.replay.problem import ReplayError, ReplayProblem, StepView, Strategy
from engine.validate import choice

__all__ = [
    "ALGORITHMS",
    "ONLINE_HEURISTICS",
    "Uncontrolled",
    "RoundRobin",
    "EarliestDeadlineFirst",
    "LeastLaxityFirst",
    "make_strategy",
    "water_fill",
    "greedy_fill",
]

ALGORITHMS = ("uncontrolled", "round_robin", "edf", "llf", "mpc", "offline", "offline_met")
ONLINE_HEURISTICS = ("uncontrolled", "round_robin", "edf", "llf")


def water_fill(caps: np.ndarray, capacity: float) -> np.ndarray:
    """Max-min fair split of ``capacity`` among cars with caps ``caps``.

    Parameters
    ----------
    caps : ndarray
        Most each car can take [kW].
    capacity : float
        Total to share [kW].

    Returns
    -------
    ndarray
        ``min(cap_i, level)`` with the level chosen so the total is ``min(capacity, sum caps)``.
    """
    caps = np.maximum(np.asarray(caps, dtype=float), 0.0)
    if caps.size == 0 or capacity <= 0:
        return np.zeros_like(caps)
    if caps.sum() <= capacity:
        return caps.copy()
    order = np.sort(caps)
    left = capacity
    k = caps.size
    level = 0.0
    for c in order:
        share = left / k
        if c <= share:
            left -= c
            k -= 1
        else:
            level = share
            break
    return np.minimum(caps, level)


def greedy_fill(caps: np.ndarray, order: np.ndarray, capacity: float) -> np.ndarray:
    """Give each car, in ``order``, up to its cap within what is left of ``capacity``.

    Parameters
    ----------
    caps : ndarray
        Most each car can take [kW].
    order : ndarray of int
        Priority order (indices into ``caps``).
    capacity : float
        Total available [kW].

    Returns
    -------
    ndarray
        Allocated power [kW].
    """
    out = np.zeros_like(np.asarray(caps, dtype=float))
    left = max(float(capacity), 0.0)
    for i in order:
        give = min(max(caps[i], 0.0), left)
        out[i] = give
        left -= give
        if left <= 0:
            break
    return out


class _Heuristic:
    name = "heuristic"
    respects_threshold = True

    def __init__(self) -> None:
        self.solve_seconds: list[float] = []
        self.problem: ReplayProblem | None = None

    def reset(self, problem: ReplayProblem) -> None:
        self.problem = problem
        self.solve_seconds = []

    def _caps(self, view: StepView) -> np.ndarray:
        pr = self.problem
        assert pr is not None
        idx = view.present
        return np.minimum(pr.max_kw[idx], view.remaining_kwh[idx] / pr.dt_hours)

    def step(self, view: StepView) -> np.ndarray:
        t0 = time.perf_counter()
        out = self._allocate(view)
        self.solve_seconds.append(time.perf_counter() - t0)
        return out

    def _allocate(self, view: StepView) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class Uncontrolled(_Heuristic):
    """Every car at full rate from plug-in until full; the threshold is ignored."""

    name = "uncontrolled"
    respects_threshold = False

    def _allocate(self, view: StepView) -> np.ndarray:
        return self._caps(view)


class RoundRobin(_Heuristic):
    """Equal share of the threshold among the cars present (water-filling)."""

    name = "round_robin"

    def _allocate(self, view: StepView) -> np.ndarray:
        assert self.problem is not None
        return water_fill(self._caps(view), self.problem.threshold_kw)


class EarliestDeadlineFirst(_Heuristic):
    """Earliest told deadline first (ties: earlier arrival, then index)."""

    name = "edf"

    def _allocate(self, view: StepView) -> np.ndarray:
        pr = self.problem
        assert pr is not None
        idx = view.present
        order = np.lexsort((idx, pr.arrival_step[idx], pr.deadline_step[idx]))
        return greedy_fill(self._caps(view), order, pr.threshold_kw)


class LeastLaxityFirst(_Heuristic):
    """Least laxity first: laxity = steps to the told deadline - steps needed at full rate.

    A car whose told deadline has passed (it stayed longer than it said) has negative
    laxity and goes first.
    """

    name = "llf"

    def _allocate(self, view: StepView) -> np.ndarray:
        pr = self.problem
        assert pr is not None
        idx = view.present
        need_steps = view.remaining_kwh[idx] / (pr.max_kw[idx] * pr.dt_hours)
        laxity = (pr.deadline_step[idx] - view.t) - need_steps
        order = np.lexsort((idx, pr.deadline_step[idx], laxity))
        return greedy_fill(self._caps(view), order, pr.threshold_kw)


def make_strategy(name: str, **options) -> Strategy:
    """Create a strategy by name.

    Parameters
    ----------
    name : str
        One of :data:`ALGORITHMS`.
    **options
        Passed to the engine strategies (``replan="every"|"events"`` for ``mpc``).

    Returns
    -------
    Strategy
    """
    choice(name, "--algorithm", ALGORITHMS, error=ReplayError)
    if name == "uncontrolled":
        return Uncontrolled()
    if name == "round_robin":
        return RoundRobin()
    if name == "edf":
        return EarliestDeadlineFirst()
    if name == "llf":
        return LeastLaxityFirst()
    if name == "mpc":
        return ModelPredictive(**options)
    if name == "offline":
        return OfflineOptimal()
    return OfflineMet()
