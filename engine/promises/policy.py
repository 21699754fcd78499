"""The promise policy: what a driver arriving now is guaranteed, and what they will likely get.

One entry point, :func:`decide_promises`, used by the replay's ``mpc`` and meant for the live
kiosk. It takes engine-level inputs only:

- the cabinet's :class:`engine.optimize.scenario.Scenario` starting now (step 0 = now): threshold, PV,
  other load, charge points (its own ``sessions`` are ignored);
- the cars present (``present``): for each charge point in use, a ``guaranteed=True``
  :class:`~engine.optimize.scenario.SessionSpec` with the energy still promised to it and/or a
  ``guaranteed=False`` one with the rest of its need (the same ``cp``; the two are one car);
- the arriving request(s) (``requests``): a ``SessionSpec`` each, ``energy_kwh`` the driver's
  need and ``departure_step`` the departure they stated;
- a :class:`engine.promises.forecast.Forecast` of the drivers still expected today
  (:func:`engine.promises.forecast.forecast_from_history` builds it from past sessions).

and returns a :class:`PromiseResult`: per request the kWh promised (a guarantee the engine's
plan keeps: every promise is checked with :func:`engine.optimize.quote.quote_max_kwh` against the
promises already made) and a "likely" kWh, plus the present cars whose promise was raised.

Policies (:data:`POLICIES`; ``docs/promises.md`` has the measurements):

``fcfs``
    First come, first served: each request promised ``min(need, quote)`` in the order given.
``admit`` (default)
    An admission decision at arrival: a small MILP on the cabinet's headroom chooses which
    drivers get their *whole* need so that the most present and expected drivers can be fully
    served (solved by diving on its LP relaxation with HiGHS, see :meth:`AdmissionModel.dive`; scipy's
    ``milp`` branch and bound was too slow at the busiest steps): one binary per car present without a full promise
    and per request, one continuous variable in [0, 1] per expected arrival (weighted by its
    forecast weight, its energy and power scaled by it: the average day), every promise made a
    hard constraint. An admitted request (or present car) is promised its whole need (checked
    by the exact quote); a request not admitted is promised nothing and charges best effort;
    its ``likely_kwh`` is what is left for it once the admitted cars are served in full and the
    expected drivers' planned energy is reserved (cars not admitted share it, most fraction of
    their need first).
``admit_reserve``
    As ``admit``, but a request not admitted is also *promised* that share (never more than the
    exact quote). Measured: fewer demands met and less energy than ``admit`` (the reserved
    promises bind the plan to guesses about the forecast).
``admit_now``
    As ``admit`` without the forecast (present cars only).

The model is built on blocks of steps (:class:`AdmissionModel`): fine blocks between the windows' ends
of the cars present and requesting, hourly blocks (:data:`FORECAST_GRID_MINUTES`) for the
expected arrivals, whose windows are rounded inwards to the hour and energies to classes (alike
arrivals merged). A car's energy in a block is bounded by its power times the block, a block's
total by the cabinet's headroom (``threshold + PV - other load``, battery ignored) summed over
its steps. With a constant headroom the fine aggregation is exact; the hourly one is a
relaxation for the expected arrivals; the exact quote decides every promise.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from engine.optimize.scenario import Scenario, SessionSpec
from engine.promises.admission import AdmissionModel
from engine.promises.cars import (
    EPS_KWH,
    FORECAST_GRID_MINUTES,
    Car,
    expected_cars,
    fits_at_full_rate,
    group_present,
    guaranteed_specs,
    quote_kwh,
    rate_kw,
)
from engine.promises.forecast import Forecast
from engine.promises.overdue import overdue_cars

__all__ = [
    "POLICIES",
    "DEFAULT_POLICY",
    "FORECAST_GRID_MINUTES",
    "RESERVE",
    "PromiseDecision",
    "PromiseResult",
    "decide_promises",
]

POLICIES = ("fcfs", "admit", "admit_reserve", "admit_now")
DEFAULT_POLICY = "admit"
RESERVE = 1.6
"""How many times the forecast's average of expected drivers the admission keeps room for.

The forecast is an average day, but the days where promises matter are the busy ones, and the
admission model is optimistic about expected drivers (continuous, hourly blocks). Measured on
90 real day x threshold cases (``docs/promises.md``, "Reserve"): 1.6 left 2 cases below EDF
with stated departures instead of 6, with the same results with actual departures."""
PHYSICAL_WEIGHT = 0.5
"""Objective weight of a request that cannot be served in full even alone (its need is beyond
what its charge point gives by its stated departure). Admitted, it is promised what the charge
point gives by then, and its driver is served in full only by staying longer than stated: about
half of them do (ACN-Data 2019-05 to 2020-03: of the claimed requests asking more than their
stated stay allows, 60 % at Caltech and 44 % at JPL stayed long enough for all of it), so it
counts as half a driver. Measured in ``docs/promises.md`` ("Requests beyond the stated stay");
with actual departures it never arises (a need is capped to the stay)."""

_SPECS = {
    "fcfs": None,
    "admit": {"forecast": True, "partial": "zero"},
    "admit_reserve": {"forecast": True, "partial": "reserve"},
    "admit_now": {"forecast": False, "partial": "zero"},
}


@dataclass(frozen=True)
class PromiseDecision:
    """The answer to one request.

    Parameters
    ----------
    session_id : str
        The request's id.
    cp : str
        Its charge point.
    promised_kwh : float
        Energy guaranteed by the stated departure [kWh] (0 <= promised <= need).
    likely_kwh : float
        Estimate of the energy it will get by then, promised part included [kWh]
        (``>= promised_kwh``): what is left for it once the drivers the policy admitted are
        served in full and the expected drivers' planned energy is reserved.
    full : bool
        Whether the whole need is promised.
    """

    session_id: str
    cp: str
    promised_kwh: float
    likely_kwh: float
    full: bool


@dataclass(frozen=True)
class PromiseResult:
    """What :func:`decide_promises` decided.

    Parameters
    ----------
    decisions : tuple of PromiseDecision
        One per request, in the order of ``requests``.
    upgrades : dict
        Charge point id -> the energy now promised to that present car from now on [kWh],
        for cars whose promise the policy raised (to their whole remaining need).
    policy : str
    solve_seconds : float
        Wall time of the decision [s].
    expected_served : float
        Expected drivers still to come that the decision plans to serve in full.
    milp_status : str
        How the admission MILP ended ("" when none was solved).
    """

    decisions: tuple[PromiseDecision, ...]
    upgrades: dict[str, float] = field(default_factory=dict)
    policy: str = DEFAULT_POLICY
    solve_seconds: float = 0.0
    expected_served: float = 0.0
    milp_status: str = ""


def decide_promises(
    scenario: Scenario,
    cabinet_id: str,
    present: Sequence[SessionSpec],
    requests: Sequence[SessionSpec],
    forecast: Forecast | None = None,
    policy: str = DEFAULT_POLICY,
    *,
    forecast_max_kw: float | None = None,
    overdue: Sequence[SessionSpec] = (),
    reserve: float = RESERVE,
) -> PromiseResult:
    """Decide the promises of arriving drivers (and raise present ones) on one cabinet.

    Parameters
    ----------
    scenario : Scenario
        The cabinet from now on (step 0 = now): horizon, step, threshold, PV, other load, and
        charge points including those of ``present`` and ``requests``. Its sessions are ignored.
    cabinet_id : str
        The cabinet.
    present : sequence of SessionSpec
        The cars plugged in: per charge point a ``guaranteed=True`` spec with the energy still
        promised [kWh] and/or a ``guaranteed=False`` spec with the rest of its need [kWh];
        windows from step 0 to the stated departure.
    requests : sequence of SessionSpec
        The drivers asking now, each with its whole need [kWh] and stated departure; decided
        in this order (a replay passes same-step arrivals smallest need first).
    forecast : Forecast, optional
        Expected arrivals on the same step grid (ignored by ``fcfs`` and ``admit_now``).
    policy : str
        One of :data:`POLICIES`.
    forecast_max_kw : float, optional
        Power of an expected arrival without its own [kW]; default the largest rating of the
        cabinet's charge points.
    overdue : sequence of SessionSpec, optional
        Cars still plugged in after their stated departure, ``energy_kwh`` each one's remaining
        need [kWh] (windows ignored): never promised, but kept room for in the admission as if
        they stayed :data:`engine.promises.overdue.OVERSTAY_MINUTES` more; while one needs
        energy no promise is raised (``upgrades``). Not part of ``present``.

    Returns
    -------
    PromiseResult
        ``decisions[i].promised_kwh`` for ``requests[i]``; ``upgrades`` for present cars whose
        promise was raised. Promised energies are jointly feasible with every earlier promise
        (each checked by the engine's quote in turn).

    Raises
    ------
    ValueError
        An unknown policy.
    """
    if policy not in _SPECS:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    t0 = time.perf_counter()
    spec = _SPECS[policy]
    cars = group_present(scenario, present)
    late = overdue_cars(scenario, overdue) if spec else []
    promised = {c.key: c.floor for c in cars}
    reqs = [r for r in requests]
    dt = float(scenario.dt_hours)
    # a need beyond what the charge point can give by the departure counts as that much
    req_cars = []
    for r in reqs:
        rate, lo, hi = rate_kw(scenario, r), int(r.arrival_step), int(r.departure_step)
        need = min(max(float(r.energy_kwh), 0.0), rate * dt * max(hi - lo, 0))
        req_cars.append(Car(r.cp, r.id, lo, hi, rate, need, 0.0, "request",
                             score=1.0 if need >= float(r.energy_kwh) - 1e-9 else PHYSICAL_WEIGHT,
                             promise_kw=r.max_kw))
    horizon = max([c.hi for c in cars + late + req_cars] + [1])
    decisions: list[PromiseDecision | None] = [None] * len(reqs)
    upgrades: dict[str, float] = {}
    expected_served = 0.0
    status = ""

    def exact(i: int, energy: float) -> float:
        return min(energy, quote_kwh(scenario, guaranteed_specs(cars + req_cars, promised), reqs[i], energy))

    everyone = cars + late + [c for c in req_cars if c.need > EPS_KWH]
    expected = expected_cars(scenario, cabinet_id, forecast, horizon, forecast_max_kw, reserve) if spec and spec["forecast"] else []
    quick = fits_at_full_rate(scenario, cabinet_id, everyone + expected, horizon)
    if spec is None or quick:  # fcfs, or nothing competes: min(need, quote) in order
        for i, (r, c) in enumerate(zip(reqs, req_cars)):
            if c.need <= EPS_KWH:
                p = 0.0
            elif quick:
                p = min(c.need, c.rate * scenario.dt_hours * max(c.hi - c.lo, 0))
            else:
                p = exact(i, c.need)
            promised[c.key] = p
            decisions[i] = PromiseDecision(r.id, r.cp, p, p, p >= float(r.energy_kwh) - 1e-6)
        return PromiseResult(tuple(decisions), {}, policy, time.perf_counter() - t0)  # type: ignore[arg-type]

    # --- admission MILP ---------------------------------------------------------------------
    allc = cars + late + [c for c in req_cars if c.need > EPS_KWH] + expected
    grid = max(1, int(round(FORECAST_GRID_MINUTES / float(scenario.step_minutes))))
    model = AdmissionModel(scenario, cabinet_id, allc, grid)
    need_max = max([c.need for c in allc] + [EPS_KWH])
    weight = np.array([c.weight * c.score * (1.0 - 1e-3 * c.need / need_max) for c in allc])
    model.build(weight)
    x, runs = model.dive()
    status = f"dive: {runs} LP solve(s)" if x is not None else "no solution"
    if x is None:  # the relaxation failed (never seen): fall back to first come, first served
        for i, (r, c) in enumerate(zip(reqs, req_cars)):
            p = exact(i, c.need) if c.need > EPS_KWH else 0.0
            promised[c.key] = p
            decisions[i] = PromiseDecision(r.id, r.cp, p, p, p >= float(r.energy_kwh) - 1e-6)
        return PromiseResult(tuple(decisions), {}, policy, time.perf_counter() - t0, 0.0,  # type: ignore[arg-type]
                             status)
    admitted: set[int] = set()
    y: dict[int, float] = {}
    z = x[model.nx:]
    for j, k in enumerate(model.choose):
        if allc[k].kind == "expected":
            y[k] = float(min(max(z[j], 0.0), 1.0))
        elif z[j] > 0.5:
            admitted.add(k)
    expected_served = float(sum(allc[k].weight * v for k, v in y.items()))
    # shares of the cars not admitted, once the admitted are served and the expected reserved
    not_adm = [k for k in model.choose if allc[k].kind != "expected" and k not in admitted]
    share = np.zeros(len(allc))
    if any(allc[k].kind == "request" for k in not_adm):  # a "likely" is only needed for them
        sx = model.share(admitted, y, not_adm)
        if sx is not None:
            share = model.energy(sx)
    # upgrades of present cars admitted (they were here first), then requests
    index = {id(c): k for k, c in enumerate(allc)}
    for c in cars:
        k = index[id(c)]
        if k in admitted and c.need > c.floor + EPS_KWH and not late:
            others = [s for s in guaranteed_specs(cars + req_cars, promised) if s.cp != c.key]
            req = SessionSpec(id=c.sid, cp=c.key, arrival_step=c.lo, departure_step=c.hi, energy_kwh=c.need)
            q = min(c.need, quote_kwh(scenario, others, req, c.need))
            if q > c.floor + EPS_KWH:
                promised[c.key] = q
                upgrades[c.key] = q
    order = sorted(range(len(reqs)), key=lambda i: (index.get(id(req_cars[i]), -1) not in admitted, i))
    for i in order:
        r, c = reqs[i], req_cars[i]
        k = index.get(id(c))
        if c.need <= EPS_KWH or k is None:
            promised[c.key] = 0.0
            decisions[i] = PromiseDecision(r.id, r.cp, 0.0, 0.0, float(r.energy_kwh) <= EPS_KWH)
            continue
        if k in admitted:
            p = exact(i, c.need)
            likely = c.need
        else:
            target = 0.0 if spec["partial"] == "zero" else float(min(share[k], c.need))
            p = exact(i, target) if target > EPS_KWH else 0.0
            likely = float(min(c.need, share[k]))
        promised[c.key] = p
        decisions[i] = PromiseDecision(r.id, r.cp, p, max(p, likely), p >= float(r.energy_kwh) - 1e-6)
    return PromiseResult(tuple(decisions), upgrades, policy, time.perf_counter() - t0,  # type: ignore[arg-type]
                         expected_served, status)
