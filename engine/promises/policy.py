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
    served (solved by diving on its LP relaxation with HiGHS, see :meth:`_Model.dive`; scipy's
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

The model is built on blocks of steps (:class:`_Model`): fine blocks between the windows' ends
of the cars present and requesting, hourly blocks (:data:`FORECAST_GRID_MINUTES`) for the
expected arrivals, whose windows are rounded inwards to the hour and energies to classes (alike
arrivals merged). A car's energy in a block is bounded by its power times the block, a block's
total by the cabinet's headroom (``threshold + PV - other load``, battery ignored) summed over
its steps. With a constant headroom the fine aggregation is exact; the hourly one is a
relaxation for the expected arrivals; the exact quote decides every promise.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from engine.promises.forecast import ExpectedArrival, Forecast
from engine.optimize.scenario import Scenario, SessionSpec, step_array

__all__ = [
    "POLICIES",
    "DEFAULT_POLICY",
    "FORECAST_GRID_MINUTES",
    "PromiseDecision",
    "PromiseResult",
    "decide_promises",
]

POLICIES = ("fcfs", "admit", "admit_reserve", "admit_now")
DEFAULT_POLICY = "admit"
FORECAST_GRID_MINUTES = 60.0
"""Expected arrivals' windows are rounded inwards to this grid (fewer MILP blocks)."""
EPS_KWH = 1e-6
PHYSICAL_WEIGHT = 1e-3
"""Objective weight of a request that cannot be served in full even alone (its need is beyond
what its charge point gives by its departure): it is admitted, for that much, only when it
costs no other driver."""

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


@dataclass
class _Car:
    key: str  # charge point
    sid: str
    lo: int
    hi: int
    rate: float  # [kW]
    need: float  # whole remaining need [kWh]
    floor: float  # remaining promise [kWh]
    kind: str  # "present", "request", "expected"
    weight: float = 1.0  # expected arrivals: expected count (energy and power scaled by it)
    score: float = 1.0  # objective weight of serving it in full (besides ``weight``)
    promise_hi: int | None = None  # the promise's own window end, when shorter than the stay [step]
    promise_kw: float | None = None  # the power a promise is checked at, when below the rating [kW]


def _headroom(scenario: Scenario, cabinet_id: str, length: int) -> np.ndarray:
    """Import headroom per step [kW] (threshold + PV - other load, >= 0), extended with its last value."""
    cab = scenario.cabinet(cabinet_id)
    T = int(scenario.horizon_steps)
    h = step_array(cab.threshold_kw, T) + step_array(cab.pv_kw, T) - step_array(cab.other_load_kw, T)
    h = np.maximum(h, 0.0)
    if length > T:
        h = np.concatenate([h, np.full(length - T, h[-1] if T else 0.0)])
    return h[:length]


def _rate(scenario: Scenario, s: SessionSpec) -> float:
    r = float(scenario.charge_point(s.cp).rated_kw)
    return min(r, float(s.max_kw)) if s.max_kw is not None else r


def _group_present(scenario: Scenario, present: Sequence[SessionSpec]) -> list[_Car]:
    cars: dict[str, _Car] = {}
    for s in present:
        e = max(float(s.energy_kwh), 0.0)
        c = cars.get(s.cp)
        if c is None:
            c = cars[s.cp] = _Car(s.cp, s.id, int(s.arrival_step), int(s.departure_step), _rate(scenario, s),
                                  0.0, 0.0, "present")
        c.lo = min(c.lo, int(s.arrival_step))
        c.hi = max(c.hi, int(s.departure_step))
        c.need += e
        if s.guaranteed:
            c.floor += e
            c.sid = s.id
            c.promise_hi, c.promise_kw = int(s.departure_step), s.max_kw
    return [c for c in cars.values() if c.need > EPS_KWH]


def _guaranteed_specs(cars: list[_Car], promised: dict[str, float]) -> list[SessionSpec]:
    return [
        SessionSpec(id=c.sid, cp=c.key, arrival_step=c.lo, departure_step=c.promise_hi or c.hi,
                    energy_kwh=promised[c.key], max_kw=c.promise_kw, guaranteed=True)
        for c in cars
        if promised.get(c.key, 0.0) > EPS_KWH
    ]


def _quote(scenario: Scenario, kept: list[SessionSpec], req: SessionSpec, energy: float) -> float:
    """The engine's exact quote for ``energy`` given the promises ``kept`` [kWh]."""
    from engine.optimize.quote import quote_max_kwh

    sc = dataclasses.replace(scenario, sessions=tuple(kept), request=None)
    r = dataclasses.replace(req, energy_kwh=float(energy), guaranteed=False)
    return float(quote_max_kwh(sc, r))


def _need_class(kwh: float) -> float:
    """An expected arrival's energy rounded to its class [kWh]: 1 kWh steps to 10, 2 to 30, then 5."""
    step = 1.0 if kwh < 10 else 2.0 if kwh < 30 else 5.0
    return max(step, round(kwh / step) * step)


def _expected(scenario: Scenario, cabinet_id: str, forecast: Forecast | None, horizon: int,
              max_kw: float | None) -> list[_Car]:
    """The forecast's expected arrivals before ``horizon`` as weighted cars.

    Windows are rounded inwards to :data:`FORECAST_GRID_MINUTES` (a window shorter than that
    keeps its own steps) and energies to classes (:func:`_need_class`); arrivals alike are
    merged into one car whose weight is the sum of theirs (exact for the MILP's continuous
    variables of expected cars).
    """
    if forecast is None:
        return []
    if max_kw is None:
        max_kw = max((float(cp.rated_kw) for cp in scenario.charge_points if cp.cabinet == cabinet_id), default=0.0)
    grid = max(1, int(round(FORECAST_GRID_MINUTES / float(scenario.step_minutes))))
    merged: dict[tuple, float] = {}
    for e in forecast.arrivals:
        if e.arrival_step >= horizon or e.energy_kwh <= EPS_KWH or e.weight <= 0:
            continue
        lo = int(math.ceil(e.arrival_step / grid) * grid)
        hi = int(math.floor(e.departure_step / grid) * grid)
        if hi <= lo:
            lo, hi = int(e.arrival_step), int(e.departure_step)
        rate = float(e.max_kw if e.max_kw is not None else max_kw)
        key = (lo, hi, _need_class(float(e.energy_kwh)), rate)
        merged[key] = merged.get(key, 0.0) + float(e.weight)
    return [_Car(f"~{k}", "", lo, hi, rate, need, 0.0, "expected", w)
            for k, ((lo, hi, need, rate), w) in enumerate(sorted(merged.items()))]


def _fits_at_full_rate(scenario: Scenario, cabinet_id: str, cars: list[_Car], horizon: int) -> bool:
    """Every car can charge at full rate all the time: nothing competes."""
    rates = sum(c.rate * c.weight for c in cars)
    return rates <= float(_headroom(scenario, cabinet_id, max(horizon, 1)).min()) + 1e-9


class _Model:
    """The admission model on blocks of steps (see :meth:`build`).

    Fine blocks lie between the windows' ends of the cars present and requesting and the
    multiples of the forecast grid; coarse blocks are the grid's (an hour). A car present or
    requesting has one column per fine block of its window; an expected car (its window on
    the grid) one per coarse block. Each fine block bounds its cars' energy by its headroom,
    each coarse block everyone's: for the expected cars a relaxation inside the hour.
    """

    def __init__(self, scenario: Scenario, cabinet_id: str, cars: list[_Car], grid: int) -> None:
        dt = float(scenario.dt_hours)
        end = max([c.hi for c in cars] + [1])
        end = int(math.ceil(end / grid) * grid)
        coarse = np.arange(0, end + 1, grid, dtype=int)
        pts = set(coarse.tolist())
        on_grid = [c.kind == "expected" and c.lo % grid == 0 and c.hi % grid == 0 for c in cars]
        for c, g in zip(cars, on_grid):
            if not g:
                pts.update((c.lo, c.hi))
        bp = np.array(sorted(pts), dtype=int)
        head = _headroom(scenario, cabinet_id, end)
        cum = np.concatenate([[0.0], np.cumsum(head)])
        self.bp = bp
        self.cap = (cum[bp[1:]] - cum[bp[:-1]]) * dt  # [kWh] per fine block
        self.cap_coarse = (cum[coarse[1:]] - cum[coarse[:-1]]) * dt  # [kWh] per coarse block
        fine_to_coarse = np.searchsorted(coarse, bp[:-1], side="right") - 1
        cols_car: list[int] = []
        cols_blk: list[int] = []
        cols_crs: list[int] = []
        ub: list[float] = []
        for k, (c, g) in enumerate(zip(cars, on_grid)):
            if g:
                c0, c1 = c.lo // grid, c.hi // grid
                for q in range(c0, c1):
                    cols_car.append(k)
                    cols_blk.append(-1)
                    cols_crs.append(q)
                    ub.append(c.weight * c.rate * dt * grid)
                continue
            b0 = int(np.searchsorted(bp, c.lo))
            b1 = int(np.searchsorted(bp, c.hi))
            for b in range(b0, b1):
                cols_car.append(k)
                cols_blk.append(b)
                cols_crs.append(int(fine_to_coarse[b]))
                ub.append(c.weight * c.rate * dt * float(bp[b + 1] - bp[b]))
        self.cars = cars
        self.nb = bp.size - 1
        self.nq = coarse.size - 1
        self.col_car = np.asarray(cols_car, dtype=int)
        self.col_blk = np.asarray(cols_blk, dtype=int)
        self.col_crs = np.asarray(cols_crs, dtype=int)
        self.x_ub = np.asarray(ub, dtype=float)
        self.nx = self.col_car.size
        self.choose = [k for k, c in enumerate(cars) if c.kind != "present" or c.need > c.floor + EPS_KWH]

    def build(self, objective_weight: np.ndarray) -> None:
        """Load the LP relaxation into one HiGHS instance (re-solved warm by :meth:`dive`, :meth:`share`).

        Columns: ``x`` (energy per car and block), then one ``z`` per choice in [0, 1]. Rows:
        block capacity ``sum x <= cap``; per car ``floor <= sum x <= need`` (expected cars
        scaled by their weight); per choice ``sum x - need * z >= 0``. Objective: maximise
        ``sum objective_weight * z``.
        """
        import highspy

        from engine.optimize.highs import new_highs

        cars, nx, nb = self.cars, self.nx, self.nb
        nc = len(cars)
        choose = np.asarray(self.choose, dtype=int)
        nz = choose.size
        n = nx + nz
        xs = np.arange(nx)
        w = np.array([c.weight for c in cars])
        need = w * np.array([c.need for c in cars])
        floor = np.array([max(c.floor * (1 - 1e-6) - 1e-4, 0.0) if c.kind == "present" else 0.0 for c in cars])
        pos = np.full(nc, -1, dtype=int)
        pos[choose] = np.arange(nz)
        in_choice = pos[self.col_car] >= 0
        nq = self.nq
        fine = self.col_blk >= 0
        nf = int(fine.sum())
        r_car = nb + nq  # first per-car row
        r_ch = r_car + nc  # first choice row
        rows = np.concatenate([self.col_blk[fine], nb + self.col_crs, r_car + self.col_car,
                               r_ch + pos[self.col_car[in_choice]], r_ch + np.arange(nz)])
        cols = np.concatenate([xs[fine], xs, xs, xs[in_choice], nx + np.arange(nz)])
        vals = np.concatenate([np.ones(nf), np.ones(nx), np.ones(nx), np.ones(int(in_choice.sum())),
                               -need[choose] * (1 - 1e-7)])
        from scipy.sparse import coo_matrix

        a = coo_matrix((vals, (rows, cols)), shape=(r_ch + nz, n)).tocsc()
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_ = int(n)
        lp.num_row_ = int(a.shape[0])
        self.cost = np.zeros(n)
        self.cost[nx:] = -np.asarray(objective_weight, dtype=float)[choose]
        lp.col_cost_ = self.cost
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.concatenate([self.x_ub, np.ones(nz)])
        lp.row_lower_ = np.concatenate([np.full(nb + nq, -inf), floor, np.zeros(nz)])
        lp.row_upper_ = np.concatenate([self.cap, self.cap_coarse, need + 1e-9, np.full(nz, inf)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = int(n)
        lp.a_matrix_.num_row_ = int(a.shape[0])
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data
        h = new_highs()
        h.passModel(lp)
        self.h = h
        self.n = n
        self.need_w = need
        self.binary = np.array([cars[k].kind != "expected" for k in choose], dtype=bool)

    def _run(self) -> np.ndarray | None:
        import highspy

        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self.h.getSolution().col_value, dtype=float)

    def _fix(self, j: int, lo: float, hi: float) -> None:
        idx = np.array([self.nx + j], dtype=np.int32)
        self.h.changeColsBounds(1, idx, np.array([lo]), np.array([hi]))

    def dive(self) -> tuple[np.ndarray | None, int]:
        """Admission by diving on the LP relaxation: the largest fractional choice of a car
        present or requesting is fixed to whichever of 1 and 0 gives the better relaxation
        (both re-solved warm), until every such choice is 0 or 1 (expected cars stay
        continuous).

        Returns
        -------
        (solution, LP solves) : ndarray or None, int
            None when even the relaxation has no solution.
        """
        x = self._run()
        runs = 1
        if x is None:
            return None, runs
        done = np.zeros(self.binary.size, dtype=bool)
        while True:
            z = x[self.nx:]
            frac = self.binary & ~done & (z > 1e-6) & (z < 1 - 1e-6)
            for j in np.flatnonzero(self.binary & ~done & ~frac):  # integral: keep as it is
                v = 1.0 if z[j] >= 0.5 else 0.0
                self._fix(int(j), v, v)
                done[j] = True
            if not frac.any():
                return x, runs
            j = int(np.flatnonzero(frac)[np.argmax(z[frac])])
            done[j] = True
            self._fix(j, 1.0, 1.0)
            one = self._run()
            self._fix(j, 0.0, 0.0)
            zero = self._run()
            runs += 2
            v1 = float(self.cost @ one) if one is not None else np.inf
            v0 = float(self.cost @ zero) if zero is not None else np.inf
            if v1 < v0 - 1e-9:  # admitting it serves more (costs are negated)
                self._fix(j, 1.0, 1.0)  # the next solve starts from the other branch's basis
                x = one
            elif zero is not None:
                x = zero
            else:  # numerically lost: keep the last solution with this car out
                x = x.copy()
                x[self.nx + j] = 0.0
                return x, runs

    def share(self, admitted: set[int], y: dict[int, float], not_adm: list[int]) -> np.ndarray | None:
        """Energy of the cars not admitted when they share what is left, most fraction of need first.

        The admitted are fixed to 1, the expected to (a little less than) their planned
        service ``y``; the objective becomes ``max sum x_c / need_c`` over ``not_adm``.
        """
        cost = np.zeros(self.n)
        on = np.zeros(len(self.cars), dtype=bool)
        on[not_adm] = True
        sel = on[self.col_car]
        cost[: self.nx][sel] = -1.0 / np.maximum(self.need_w[self.col_car[sel]], EPS_KWH)
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost)
        for backoff in (1e-4, 1e-2, 1.0):
            for j, k in enumerate(self.choose):
                if k in admitted:
                    self._fix(j, 1.0 - 1e-6, 1.0)
                elif k in y:
                    v = y[k] * (1.0 - backoff)
                    self._fix(j, v, v)
                else:
                    self._fix(j, 0.0, 0.0)
            x = self._run()
            if x is not None:
                return x
        return None

    def energy(self, x: np.ndarray) -> np.ndarray:
        """Energy per car in a solution [kWh] (expected cars: their weighted share)."""
        out = np.zeros(len(self.cars))
        np.add.at(out, self.col_car, x[: self.nx])
        return out


def decide_promises(
    scenario: Scenario,
    cabinet_id: str,
    present: Sequence[SessionSpec],
    requests: Sequence[SessionSpec],
    forecast: Forecast | None = None,
    policy: str = DEFAULT_POLICY,
    *,
    forecast_max_kw: float | None = None,
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
    cars = _group_present(scenario, present)
    promised = {c.key: c.floor for c in cars}
    reqs = [r for r in requests]
    dt = float(scenario.dt_hours)
    # a need beyond what the charge point can give by the departure counts as that much
    req_cars = []
    for r in reqs:
        rate, lo, hi = _rate(scenario, r), int(r.arrival_step), int(r.departure_step)
        need = min(max(float(r.energy_kwh), 0.0), rate * dt * max(hi - lo, 0))
        req_cars.append(_Car(r.cp, r.id, lo, hi, rate, need, 0.0, "request",
                             score=1.0 if need >= float(r.energy_kwh) - 1e-9 else PHYSICAL_WEIGHT,
                             promise_kw=r.max_kw))
    horizon = max([c.hi for c in cars + req_cars] + [1])
    decisions: list[PromiseDecision | None] = [None] * len(reqs)
    upgrades: dict[str, float] = {}
    expected_served = 0.0
    status = ""

    def exact(i: int, energy: float) -> float:
        return min(energy, _quote(scenario, _guaranteed_specs(cars + req_cars, promised), reqs[i], energy))

    everyone = [c for c in cars] + [c for c in req_cars if c.need > EPS_KWH]
    expected = _expected(scenario, cabinet_id, forecast, horizon, forecast_max_kw) if spec and spec["forecast"] else []
    quick = _fits_at_full_rate(scenario, cabinet_id, everyone + expected, horizon)
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
    allc = cars + [c for c in req_cars if c.need > EPS_KWH] + expected
    grid = max(1, int(round(FORECAST_GRID_MINUTES / float(scenario.step_minutes))))
    model = _Model(scenario, cabinet_id, allc, grid)
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
        if k in admitted and c.need > c.floor + EPS_KWH:
            others = [s for s in _guaranteed_specs(cars + req_cars, promised) if s.cp != c.key]
            req = SessionSpec(id=c.sid, cp=c.key, arrival_step=c.lo, departure_step=c.hi, energy_kwh=c.need)
            q = min(c.need, _quote(scenario, others, req, c.need))
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
