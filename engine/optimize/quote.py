"""Quotes: may this driver's need be met? (spec section "Quote")

Within the request's cabinet the overload stays at its stage-0 minimum and the
guaranteed sessions keep the energy stage 1 gives them (all of their requests whenever
the physics allows; when it does not, their stage-1 total is kept). Sessions that are
not guaranteed are best effort and are left out: they never reduce a quote.

The request becomes one more column block with its window stretched to the horizon's
end; HiGHS then maximises its energy for a given departure step by zeroing the upper
bounds of the steps at and after it, re-solving warm from the previous basis. The
earliest departure is found by bisection over the departure step (feasibility is
monotone in it), with two shortcuts: no departure is earlier than charging at full
power allows, and a feasible solve's last charging step bounds the answer from above.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.optimize.highs import LpHandle
from engine.optimize.cabinet_input import aggregate, cabinet_input
from engine.optimize.lp_model import build_model
from engine.optimize.stages import stage_overload_and_guarantees
from engine.optimize.scenario import Scenario, ScenarioError, SessionSpec, check_references
from engine.optimize.scenario_json import check_request

__all__ = ["Quote", "quote", "quote_max_kwh", "FEASIBLE_TOL_KWH"]

FEASIBLE_TOL_KWH = 1e-6
"""A request is feasible when ``max_kwh >= energy_kwh - FEASIBLE_TOL_KWH`` (spec)."""


@dataclass(frozen=True)
class Quote:
    """The answer to a quote request.

    Parameters
    ----------
    feasible : bool
        ``max_kwh >= energy_kwh - 1e-6``.
    max_kwh : float
        ``min(energy_kwh, the most energy the request can get by its departure)`` [kWh].
    earliest_departure_step : int or None
        Smallest departure step (<= horizon_steps) at which the whole request could be
        delivered [step index]; ``None`` if none.
    solve_seconds : float
        Wall time [s].
    request_id : str
    cabinet : str
        The request's cabinet.
    guarantees_met : bool
        Whether the cabinet's guaranteed sessions all get their whole request.
    """

    feasible: bool
    max_kwh: float
    earliest_departure_step: int | None
    solve_seconds: float
    request_id: str = ""
    cabinet: str = ""
    guarantees_met: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The spec's quote JSON object (plus ``request_id``, ``cabinet``, ``guarantees_met``)."""
        return {
            "feasible": bool(self.feasible),
            "max_kwh": float(self.max_kwh),
            "earliest_departure_step": None
            if self.earliest_departure_step is None
            else int(self.earliest_departure_step),
            "solve_seconds": float(self.solve_seconds),
            "request_id": self.request_id,
            "cabinet": self.cabinet,
            "guarantees_met": bool(self.guarantees_met),
        }


def quote(scenario: Scenario, request: SessionSpec | None = None) -> Quote:
    """Quote a charging request (spec "Quote").

    Parameters
    ----------
    scenario : Scenario
        The site and its current sessions.
    request : SessionSpec, optional
        The driver's request; default ``scenario.request``.

    Returns
    -------
    Quote

    Raises
    ------
    ScenarioError
        ``request: ...`` when there is no request, or its charge point is unknown or busy
        during its window.
    """
    return _quote(scenario, request, earliest=True)


def quote_max_kwh(scenario: Scenario, request: SessionSpec | None = None) -> float:
    """The quote's ``max_kwh`` only, without the earliest-departure search (cheaper).

    Parameters
    ----------
    scenario : Scenario
    request : SessionSpec, optional
        Default ``scenario.request``.

    Returns
    -------
    float
        ``min(energy_kwh, most energy by the request's departure)`` [kWh].
    """
    return _quote(scenario, request, earliest=False).max_kwh


def _quote(scenario: Scenario, request: SessionSpec | None, *, earliest: bool) -> Quote:
    t0 = time.perf_counter()
    req = request if request is not None else scenario.request
    if req is None:
        raise ScenarioError("request", "required for a quote")
    check_request(scenario, req)
    T = int(scenario.horizon_steps)
    cab_id = scenario.cabinet_of(req.cp)
    cp_cab = check_references(scenario.cabinets, scenario.charge_points, scenario.sessions)
    kept = [s for s in scenario.sessions if s.guaranteed and cp_cab[s.cp] == cab_id]
    stretched = SessionSpec(
        id=req.id,
        cp=req.cp,
        arrival_step=req.arrival_step,
        departure_step=max(T, req.arrival_step + 1) if earliest else req.departure_step,
        energy_kwh=req.energy_kwh,
        max_kw=req.max_kw,
        guaranteed=False,
    )
    inp = cabinet_input(scenario, cab_id, [*kept, stretched])
    if not earliest:  # one window only: blocks of equal-data steps are exact
        inp, _ = aggregate(inp)
    m = build_model(inp, with_import=False, with_fairness=False)
    dt = inp.dt
    E = float(req.energy_kwh)
    r = len(kept)
    cols = np.arange(m.power_start[r], m.power_start[r + 1])
    steps = m.power_step[cols]
    ub = float(inp.max_kw[r]) if E > 0 else 0.0
    lo_step = int(inp.lo[r])
    D_req = min(int(req.departure_step), T)
    if earliest:
        m.col_upper[cols[steps >= D_req]] = 0.0  # the request's own window first
    cost = np.zeros(m.n_col)
    cost[cols] = -inp.w[steps]
    st = stage_overload_and_guarantees(m, prelude=cost)
    lp: LpHandle = st.lp
    lp.set_cost(cost)
    current = {"D": D_req}

    def max_by(D: int) -> tuple[float, int]:
        """Most energy by departure D [kWh] and 1 + the last step charged."""
        if cols.size == 0:
            return 0.0, lo_step
        if D != current["D"]:
            upper = np.where(steps < D, ub, 0.0)
            lp.set_bounds(cols, np.zeros(cols.size), upper)
            current["D"] = D
        v = -lp.solve()
        p = lp.x()[cols]
        active = np.flatnonzero(p > 1e-9)
        last = int(steps[active[-1]]) + 1 if active.size else lo_step
        return v, last

    v_req, last_req = max_by(D_req)
    max_kwh = min(E, max(v_req, 0.0))
    feasible = max_kwh >= E - FEASIBLE_TOL_KWH

    earliest_step: int | None
    first = int(req.arrival_step) + 1
    if not earliest:
        earliest_step = None
    elif E <= FEASIBLE_TOL_KWH:
        earliest_step = first if first <= T else None
    else:
        if feasible:
            hi = max(first, min(D_req, last_req))
        elif D_req >= T:
            hi = -1
        else:
            v_T, last_T = max_by(T)
            hi = max(first, min(T, last_T)) if v_T >= E - FEASIBLE_TOL_KWH else -1
        if hi < 0:
            earliest_step = None
        else:
            # below `lo` the request cannot be met even at full power from its arrival
            full_power_steps = math.ceil(E / (ub * dt) - 1e-9) if ub > 0 else T + 1
            lo = max(first - 1, lo_step + full_power_steps - 1, D_req if not feasible else first - 1)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                v, last = max_by(mid)
                if v >= E - FEASIBLE_TOL_KWH:
                    hi = max(lo + 1, min(mid, last))
                else:
                    lo = mid
            earliest_step = hi
    return Quote(
        feasible=bool(feasible),
        max_kwh=float(max_kwh),
        earliest_departure_step=earliest_step,
        solve_seconds=time.perf_counter() - t0,
        request_id=req.id,
        cabinet=cab_id,
        guarantees_met=st.guarantees_met,
    )
