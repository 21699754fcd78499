"""What every replay strategy sees: the problem, the view of one step, the protocol, the error.

The simulator (:mod:`engine.replay.simulate`) builds a :class:`ReplayProblem` and steps a
:class:`Strategy` through it, one :class:`StepView` per step. The heuristics
(:mod:`engine.replay.strategies`), the engine's strategies (:mod:`engine.replay.mpc`) and the
hindsight bound (:mod:`engine.replay.offline_met`) all import these from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from engine.errors import FieldError

__all__ = ["ReplayProblem", "StepView", "Strategy", "ReplayError"]


class ReplayError(FieldError):
    """Invalid replay input; ``field`` names the offending option or file (:class:`engine.errors.FieldError`)."""


@dataclass(frozen=True)
class ReplayProblem:
    """The replay as the simulator runs it (arrays of length ``n`` sessions).

    Parameters
    ----------
    step_minutes : int
        Step length [min].
    horizon_steps : int
        Number of steps.
    threshold_kw : float
        The site cabinet's import limit [kW].
    max_kw : ndarray
        Each car's maximum power, the charge point rating [kW].
    arrival_step, departure_step : ndarray of int
        Real presence: steps ``arrival_step <= t < departure_step``.
    deadline_step : ndarray of int
        The departure each car *told* the operator (actual or estimated).
    demand_kwh : ndarray
        Energy each car needs [kWh].
    price_per_kwh : ndarray
        Energy price per step [$/kWh] (zeros without a tariff).
    session_ids : list of str
    start : datetime or None
        Time of step 0 (the window's local midnight); None for hand-made problems.
    history : tuple of PastSession
        The site's sessions around the window, each with its need under the replay's demand
        convention (capped to what a charge point gives over its stay); an online strategy
        may use those that have left (:mod:`engine.promises.forecast` only reads those).
    """

    step_minutes: int
    horizon_steps: int
    threshold_kw: float
    max_kw: np.ndarray
    arrival_step: np.ndarray
    departure_step: np.ndarray
    deadline_step: np.ndarray
    demand_kwh: np.ndarray
    price_per_kwh: np.ndarray
    session_ids: list[str] = field(default_factory=list)
    start: datetime | None = None
    history: tuple = ()

    @property
    def n(self) -> int:
        """Number of sessions."""
        return int(len(self.demand_kwh))

    @property
    def dt_hours(self) -> float:
        """Step length [h]."""
        return self.step_minutes / 60.0


@dataclass(frozen=True)
class StepView:
    """What a strategy may know at step ``t``.

    Parameters
    ----------
    t : int
        The step being decided.
    present : ndarray of int
        Indices of the cars plugged in now (arrived, not yet left), in arrival order.
    remaining_kwh : ndarray
        Remaining need of every car (length ``n``) [kWh].
    delivered_kwh : ndarray
        Energy delivered so far to every car [kWh].
    arrived : ndarray of int
        Indices of the cars arriving at this step.
    departed : ndarray of int
        Indices of the cars that left at this step (their ``departure_step == t``).
    """

    t: int
    present: np.ndarray
    remaining_kwh: np.ndarray
    delivered_kwh: np.ndarray
    arrived: np.ndarray
    departed: np.ndarray


class Strategy(Protocol):
    """A charging strategy: ``reset`` once, then ``step`` at every step."""

    name: str
    respects_threshold: bool
    solve_seconds: list[float]

    def reset(self, problem: ReplayProblem) -> None:
        """Start a new replay."""

    def step(self, view: StepView) -> np.ndarray:
        """Power per present car, aligned with ``view.present`` [kW]."""
