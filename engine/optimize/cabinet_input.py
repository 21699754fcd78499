"""One cabinet's data as flat arrays (:class:`CabinetInput`), and its steps merged into blocks.

:func:`cabinet_input` extracts one cabinet of a :class:`~engine.optimize.scenario.Scenario`;
:func:`aggregate` merges consecutive steps with identical data (no arrival, departure, price,
threshold, PV or load change inside) into blocks, on which the LP is exact for stages 0-4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.optimize.scenario import BatterySpec, Scenario, SessionSpec, step_array

__all__ = ["CabinetInput", "cabinet_input", "aggregate"]


@dataclass(frozen=True, eq=False)
class CabinetInput:
    """Everything one cabinet's LP needs, as flat arrays.

    Parameters
    ----------
    cabinet_id : str
    dt : float
        Step length [h].
    threshold_kw, pv_kw, other_load_kw, price_per_kwh : ndarray
        Per-step arrays of length T [kW, kW, kW, currency/kWh].
    battery : BatterySpec or None
    session_ids : tuple of str
    lo, hi : ndarray of int
        Each session's window clipped to the horizon, ``[lo, hi)`` [step index]
        (``hi <= lo`` means an empty window).
    max_kw : ndarray
        Each session's power cap ``min(max_kw, rated_kw)`` [kW].
    energy_kwh : ndarray
        Each session's request [kWh].
    guaranteed : ndarray of bool
    step_hours : ndarray or None
        Length of each step [h] when the steps are blocks of equal-data steps (see
        :func:`aggregate`); ``None``: every step lasts ``dt``.
    """

    cabinet_id: str
    dt: float
    threshold_kw: np.ndarray
    pv_kw: np.ndarray
    other_load_kw: np.ndarray
    price_per_kwh: np.ndarray
    battery: BatterySpec | None
    session_ids: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    max_kw: np.ndarray
    energy_kwh: np.ndarray
    guaranteed: np.ndarray
    step_hours: np.ndarray | None = None

    @property
    def horizon_steps(self) -> int:
        """Number of steps T."""
        return int(self.threshold_kw.shape[0])

    @property
    def w(self) -> np.ndarray:
        """Length of every step [h] (``dt`` each, unless the steps are aggregated blocks)."""
        if self.step_hours is not None:
            return self.step_hours
        return np.full(self.horizon_steps, self.dt)

    @property
    def base_load_kw(self) -> np.ndarray:
        """Net load without EVs and battery, ``other - pv`` per step [kW]."""
        return self.other_load_kw - self.pv_kw


def cabinet_input(
    scenario: Scenario, cabinet_id: str, sessions: Sequence[SessionSpec] | None = None
) -> CabinetInput:
    """Collect one cabinet's data from a scenario.

    Parameters
    ----------
    scenario : Scenario
    cabinet_id : str
    sessions : sequence of SessionSpec, optional
        Sessions to plan on this cabinet; default: the scenario's sessions whose charge
        point is wired to it.

    Returns
    -------
    CabinetInput
    """
    T = int(scenario.horizon_steps)
    cab = scenario.cabinet(cabinet_id)
    cps = {cp.id: cp for cp in scenario.charge_points}
    if sessions is None:
        sessions = [s for s in scenario.sessions if cps[s.cp].cabinet == cabinet_id]
    n = len(sessions)
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    ub = np.empty(n, dtype=float)
    en = np.empty(n, dtype=float)
    g = np.zeros(n, dtype=bool)
    for i, s in enumerate(sessions):
        lo[i] = max(int(s.arrival_step), 0)
        hi[i] = min(int(s.departure_step), T)
        rated = float(cps[s.cp].rated_kw)
        ub[i] = rated if s.max_kw is None else min(float(s.max_kw), rated)
        en[i] = float(s.energy_kwh)
        g[i] = bool(s.guaranteed)
    return CabinetInput(
        cabinet_id=cabinet_id,
        dt=scenario.dt_hours,
        threshold_kw=step_array(cab.threshold_kw, T),
        pv_kw=step_array(cab.pv_kw, T),
        other_load_kw=step_array(cab.other_load_kw, T),
        price_per_kwh=scenario.prices(),
        battery=cab.battery,
        session_ids=tuple(s.id for s in sessions),
        lo=lo,
        hi=hi,
        max_kw=ub,
        energy_kwh=en,
        guaranteed=g,
    )


def aggregate(inp: CabinetInput) -> tuple[CabinetInput, np.ndarray]:
    """Merge runs of steps in which nothing changes into blocks (exact for stages 0-4).

    A block is a maximal run of steps with the same threshold, PV, other load and price
    and no session arriving or leaving inside it. Any plan can be averaged over each
    block without breaking a constraint (all are convex with the same data at every
    step of the block; the battery's energy then moves linearly between the block's
    ends, which are unchanged) or changing a stage objective (linear, same weight at
    every step of the block), and a block plan is a step plan with constant power.
    So the optima of stages 0-4 are the same; only the stage-5 tie-break works on
    blocks (power is constant within a block).

    Parameters
    ----------
    inp : CabinetInput
        Per-step input (``step_hours`` must be ``None``).

    Returns
    -------
    blocks : CabinetInput
        The same cabinet with one "step" per block (``step_hours`` = block lengths).
    block_of : ndarray of int
        Block index of every original step, length T.
    """
    T = inp.horizon_steps
    cut = np.zeros(T + 1, dtype=bool)
    cut[0] = cut[T] = True
    for arr in (inp.threshold_kw, inp.pv_kw, inp.other_load_kw, inp.price_per_kwh):
        cut[1:T] |= arr[1:] != arr[:-1]
    live = inp.hi > inp.lo
    cut[np.clip(inp.lo[live], 0, T)] = True
    cut[np.clip(inp.hi[live], 0, T)] = True
    edges = np.flatnonzero(cut)
    starts = edges[:-1]
    lens = np.diff(edges)
    block_of = np.repeat(np.arange(starts.size), lens)
    lo = np.where(live, np.searchsorted(edges, inp.lo), 0)
    hi = np.where(live, np.searchsorted(edges, inp.hi), 0)
    blocks = CabinetInput(
        cabinet_id=inp.cabinet_id,
        dt=inp.dt,
        threshold_kw=inp.threshold_kw[starts],
        pv_kw=inp.pv_kw[starts],
        other_load_kw=inp.other_load_kw[starts],
        price_per_kwh=inp.price_per_kwh[starts],
        battery=inp.battery,
        session_ids=inp.session_ids,
        lo=lo.astype(np.int64),
        hi=hi.astype(np.int64),
        max_kw=inp.max_kw,
        energy_kwh=inp.energy_kwh,
        guaranteed=inp.guaranteed,
        step_hours=lens * inp.dt,
    )
    return blocks, block_of
