"""One cabinet's linear program: variables, constraints, sparse matrix, HiGHS handle.

The model follows the physics of the engine spec for one cabinet over T steps of
``dt`` hours (or T blocks of ``w[t]`` hours each, see :func:`aggregate`; read ``dt``
below as ``w[t]`` then). Columns (all built with vectorised index arithmetic):

* ``p[s, t]`` charging power of session s [kW], only for t in its window
  ``[max(arrival, 0), min(departure, T))``, bounds ``[0, min(max_kw, rated_kw)]``;
* battery ``c[t]`` charge, ``d[t]`` discharge [kW] and ``e[t]`` energy after step t
  [kWh] (``e[1..T]`` of the spec), only with a battery;
* ``o[t]`` overload above the threshold [kW], ``>= 0``;
* ``imp[t]`` grid import [kW], ``>= max(net[t], 0)`` (only when some price is non-zero,
  and only at steps where the net load can be negative: with a battery, or PV above
  the other load; elsewhere the import is the net load itself);
* ``z`` the smallest delivered/requested fraction (only when fairness rows are asked for).

Rows:

* threshold: ``sum_s p[s,t] + c[t] - d[t] - o[t] <= thr[t] - other[t] + pv[t]``;
* import: ``imp[t] - sum_s p[s,t] - c[t] + d[t] >= other[t] - pv[t]``;
* energy: ``sum_t p[s,t] dt <= energy_kwh[s]``;
* battery: ``e[t+1] - e[t] - eff dt c[t] + dt/eff d[t] = 0`` (``= e[0]`` for t = 0);
* fairness: ``sum_t p[s,t] dt / energy_kwh[s] - z >= 0`` for sessions with energy > 0.

:class:`LpHandle` keeps one HiGHS instance on the model so that successive stages only
change the cost vector, add a row and re-run the simplex from the previous basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import highspy
import numpy as np

from engine.optimize.scenario import BatterySpec, Scenario, SessionSpec, step_array

__all__ = [
    "CabinetInput",
    "CabinetModel",
    "LpHandle",
    "LpError",
    "aggregate",
    "cabinet_input",
    "build_model",
    "new_highs",
]

INF = highspy.kHighsInf


class LpError(RuntimeError):
    """HiGHS did not reach an optimal solution (should not happen: every model is feasible)."""


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


@dataclass(eq=False)
class CabinetModel:
    """The sparse LP of one cabinet, ready for HiGHS (column-wise arrays).

    Attributes
    ----------
    inp : CabinetInput
    n_col, n_row : int
    p_off : ndarray
        ``p`` columns of session s are ``p_off[s]:p_off[s+1]``.
    p_sess, p_t : ndarray
        Session index and step of every ``p`` column.
    c, d, e, o : ndarray or None
        Column indices per step (``None`` when absent).
    imp : ndarray or None
        Import columns, one per step of ``imp_t`` (``None`` without the cost stage).
    imp_t : ndarray
        Steps that have an import column: every step with a battery, else the steps
        where PV exceeds the other load (elsewhere import = net load >= 0).
    z : int
        Column of the fairness variable, ``-1`` when absent.
    fair : ndarray of bool
        Sessions with a fairness row.
    col_lower, col_upper, row_lower, row_upper : ndarray
    a_start, a_index, a_value : ndarray
        Column-wise sparse matrix.
    """

    inp: CabinetInput
    n_col: int
    n_row: int
    p_off: np.ndarray
    p_sess: np.ndarray
    p_t: np.ndarray
    c: np.ndarray | None
    d: np.ndarray | None
    e: np.ndarray | None
    o: np.ndarray
    imp: np.ndarray | None
    imp_t: np.ndarray
    z: int
    fair: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray

    @property
    def n_p(self) -> int:
        """Number of ``p`` columns."""
        return int(self.p_off[-1])

    def cost_objective(self) -> tuple[np.ndarray, np.ndarray, float]:
        """The energy cost as ``coef . x[cols] + const`` [currency].

        Returns
        -------
        cols : ndarray
            Import columns, then the ``p`` columns at steps without an import column.
        coef : ndarray
            ``price[t] * dt`` for each of them [currency/kW].
        const : float
            Cost of the other load minus PV at steps without an import column [currency].
        """
        inp = self.inp
        pw = inp.price_per_kwh * inp.w
        has = np.zeros(inp.horizon_steps, dtype=bool)
        has[self.imp_t] = True
        imp = self.imp if self.imp is not None else np.zeros(0, dtype=np.int64)
        pm = ~has[self.p_t]
        cols = np.concatenate([imp, np.flatnonzero(pm)])
        coef = np.concatenate([pw[self.imp_t], pw[self.p_t[pm]]])
        const = float(np.sum((pw * inp.base_load_kw)[~has]))
        return cols, coef, const


def build_model(inp: CabinetInput, *, with_import: bool, with_fairness: bool) -> CabinetModel:
    """Build the cabinet LP (no objective) with numpy index arithmetic.

    Parameters
    ----------
    inp : CabinetInput
    with_import : bool
        Add the ``imp[t]`` columns and import rows (needed for the cost stage).
    with_fairness : bool
        Add the ``z`` column and fairness rows (needed for the fairness stage).

    Returns
    -------
    CabinetModel
    """
    T = inp.horizon_steps
    w = inp.w
    S = len(inp.session_ids)
    n = np.maximum(inp.hi - inp.lo, 0).astype(np.int64)
    p_off = np.zeros(S + 1, dtype=np.int64)
    np.cumsum(n, out=p_off[1:])
    N = int(p_off[-1])
    p_sess = np.repeat(np.arange(S, dtype=np.int64), n)
    p_t = np.arange(N, dtype=np.int64) - p_off[p_sess] + inp.lo[p_sess]
    steps = np.arange(T, dtype=np.int64)

    col = N
    lower = [np.zeros(N)]
    upper = [np.where(inp.energy_kwh[p_sess] > 0, inp.max_kw[p_sess], 0.0)]
    bat = inp.battery
    c = d = e = None
    if bat is not None:
        c, d, e = col + steps, col + T + steps, col + 2 * T + steps
        col += 3 * T
        lower += [np.zeros(T), np.zeros(T), np.full(T, bat.min_energy_kwh)]
        upper += [np.full(T, bat.max_charge_kw), np.full(T, bat.max_discharge_kw), np.full(T, bat.capacity_kwh)]
    o = col + steps
    col += T
    lower.append(np.zeros(T))
    upper.append(np.full(T, INF))
    imp = None
    imp_t = np.zeros(0, dtype=np.int64)
    if with_import:
        # import variables only where net load can be negative (battery, or PV above the
        # other load); elsewhere import = net >= 0 is linear in the EV powers already
        if bat is not None:
            imp_t = steps.copy()
        else:
            imp_t = np.flatnonzero(inp.pv_kw > inp.other_load_kw).astype(np.int64)
        imp = col + np.arange(imp_t.size, dtype=np.int64)
        col += imp_t.size
        lower.append(np.zeros(imp_t.size))
        upper.append(np.full(imp_t.size, INF))
    fair = (inp.energy_kwh > 0) if with_fairness else np.zeros(S, dtype=bool)
    z = -1
    if fair.any():
        z = col
        col += 1
        lower.append(np.zeros(1))
        upper.append(np.ones(1))
    n_col = col

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rlo: list[np.ndarray] = []
    rup: list[np.ndarray] = []
    base = inp.other_load_kw - inp.pv_kw

    def add(r: np.ndarray, cc: np.ndarray, v: np.ndarray | float) -> None:
        rows.append(r)
        cols.append(cc)
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))

    p_cols = np.arange(N, dtype=np.int64)
    # threshold rows 0..T-1
    r0 = 0
    add(r0 + p_t, p_cols, 1.0)
    if bat is not None:
        add(r0 + steps, c, 1.0)
        add(r0 + steps, d, -1.0)
    add(r0 + steps, o, -1.0)
    rlo.append(np.full(T, -INF))
    rup.append(inp.threshold_kw - base)
    nrow = T
    # import rows
    if imp is not None and imp_t.size:
        r0 = nrow
        row_of = np.full(T, -1, dtype=np.int64)
        row_of[imp_t] = r0 + np.arange(imp_t.size)
        add(r0 + np.arange(imp_t.size), imp, 1.0)
        pm = row_of[p_t] >= 0
        add(row_of[p_t[pm]], p_cols[pm], -1.0)
        if bat is not None:
            add(r0 + steps, c, -1.0)
            add(r0 + steps, d, 1.0)
        rlo.append(base[imp_t].copy())
        rup.append(np.full(imp_t.size, INF))
        nrow += imp_t.size
    # energy rows
    r0 = nrow
    add(r0 + p_sess, p_cols, w[p_t])
    rlo.append(np.full(S, -INF))
    rup.append(inp.energy_kwh.astype(float))
    nrow += S
    # battery rows
    if bat is not None:
        r0 = nrow
        eff = float(bat.efficiency)
        add(r0 + steps, e, 1.0)
        add(r0 + steps[1:], e[:-1], -1.0)
        add(r0 + steps, c, -eff * w)
        add(r0 + steps, d, w / eff)
        rhs = np.zeros(T)
        rhs[0] = bat.energy_kwh
        rlo.append(rhs)
        rup.append(rhs.copy())
        nrow += T
    # fairness rows
    if z >= 0:
        r0 = nrow
        fidx = np.flatnonzero(fair)
        frow = np.full(S, -1, dtype=np.int64)
        frow[fidx] = r0 + np.arange(fidx.size)
        pm = fair[p_sess]
        add(frow[p_sess[pm]], p_cols[pm], w[p_t[pm]] / inp.energy_kwh[p_sess[pm]])
        add(r0 + np.arange(fidx.size), np.full(fidx.size, z, dtype=np.int64), -1.0)
        rlo.append(np.zeros(fidx.size))
        rup.append(np.full(fidx.size, INF))
        nrow += fidx.size

    r = np.concatenate(rows)
    cc = np.concatenate(cols)
    v = np.concatenate(vals)
    order = np.lexsort((r, cc))
    cc_sorted = cc[order]
    a_start = np.zeros(n_col + 1, dtype=np.int32)
    np.cumsum(np.bincount(cc_sorted, minlength=n_col), out=a_start[1:])
    return CabinetModel(
        inp=inp,
        n_col=n_col,
        n_row=nrow,
        p_off=p_off,
        p_sess=p_sess,
        p_t=p_t,
        c=c,
        d=d,
        e=e,
        o=o,
        imp=imp,
        imp_t=imp_t,
        z=z,
        fair=fair,
        col_lower=np.concatenate(lower),
        col_upper=np.concatenate(upper),
        row_lower=np.concatenate(rlo) if rlo else np.zeros(0),
        row_upper=np.concatenate(rup) if rup else np.zeros(0),
        a_start=a_start,
        a_index=r[order].astype(np.int32),
        a_value=v[order].astype(float),
    )


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance (nothing may reach stdout: the CLI prints JSON there).

    highspy 1.15 prints nothing when constructed; its banner and logs appear only on a
    run with ``output_flag`` on, which is switched off here before any model is passed.
    (File descriptor 1 is deliberately not redirected: the planner builds instances
    in parallel threads, and the app's server shares the descriptor.)
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


_OPTIMAL = highspy.HighsModelStatus.kOptimal
_DUAL = 1
_PRIMAL = 4


class LpHandle:
    """One HiGHS instance holding a model, re-solved stage after stage.

    ``LpHandle.rescues`` counts, process-wide, the runs that needed the numerical rescue
    (cold restart, then widened stage rows).

    Parameters
    ----------
    n_col, n_row : int
    col_lower, col_upper, row_lower, row_upper, a_start, a_index, a_value : ndarray
        The model, column-wise (see :class:`CabinetModel`).
    cost : ndarray
        Initial cost vector (minimised).
    """

    rescues = 0

    def __init__(
        self,
        n_col: int,
        n_row: int,
        col_lower: np.ndarray,
        col_upper: np.ndarray,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        a_start: np.ndarray,
        a_index: np.ndarray,
        a_value: np.ndarray,
        cost: np.ndarray | None = None,
    ) -> None:
        self.h = new_highs()
        self.h.setOptionValue("solver", "simplex")
        # presolve off: measured faster on these models (the crash basis is good), and
        # HiGHS 1.15's presolve can misjudge a model whose bounds sit within ~1e-7 of
        # each other as infeasible
        self.h.setOptionValue("presolve", "off")
        self.n_col = int(n_col)
        self.n_row = int(n_row)
        self._all = np.arange(self.n_col, dtype=np.int32)
        cost = np.zeros(self.n_col) if cost is None else np.asarray(cost, dtype=float)
        self.cost = cost.copy()
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_col
        lp.num_row_ = self.n_row
        lp.col_cost_ = cost
        lp.col_lower_ = np.asarray(col_lower, dtype=float)
        lp.col_upper_ = np.asarray(col_upper, dtype=float)
        lp.row_lower_ = np.asarray(row_lower, dtype=float)
        lp.row_upper_ = np.asarray(row_upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = self.n_col
        lp.a_matrix_.num_row_ = self.n_row
        lp.a_matrix_.start_ = np.asarray(a_start, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(a_index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(a_value, dtype=float)
        self.h.passModel(lp)
        self.solves = 0
        self.iterations = 0
        self.extra_rows: list[tuple[int, float, float]] = []
        self._strategy = _PRIMAL

    @classmethod
    def from_model(cls, m: CabinetModel, cost: np.ndarray | None = None) -> "LpHandle":
        """Load a :class:`CabinetModel`."""
        return cls(
            m.n_col, m.n_row, m.col_lower, m.col_upper, m.row_lower, m.row_upper, m.a_start, m.a_index, m.a_value, cost
        )

    def set_cost(self, cost: np.ndarray) -> None:
        """Replace the whole cost vector (minimised)."""
        cost = np.asarray(cost, dtype=float)
        changed = np.flatnonzero(cost != self.cost).astype(np.int32)
        if changed.size:
            self.h.changeColsCost(int(changed.size), changed, cost[changed])
            self.cost = cost.copy()
            self._strategy = _PRIMAL  # the basis stays primal feasible: primal simplex

    def set_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change column bounds."""
        idx = np.asarray(idx, dtype=np.int32)
        if idx.size:
            self.h.changeColsBounds(
                int(idx.size), idx, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
            )
            self._strategy = _DUAL  # the basis stays dual feasible: dual simplex

    def add_row(self, idx: np.ndarray, coef: np.ndarray, lower: float, upper: float) -> int:
        """Append the row ``lower <= coef . x[idx] <= upper``; returns its index."""
        idx = np.asarray(idx, dtype=np.int32)
        self.h.addRow(float(lower), float(upper), int(idx.size), idx, np.asarray(coef, dtype=float))
        self.n_row += 1
        self.extra_rows.append((self.n_row - 1, float(lower), float(upper)))
        return self.n_row - 1

    def _relax_extra_rows(self, rel: float) -> None:
        """Widen every added row by ``rel`` relative + absolute (numerical rescue)."""
        for i, (row, lo, up) in enumerate(self.extra_rows):
            lo2 = lo - rel * (abs(lo) + 1.0) if lo > -INF else lo
            up2 = up + rel * (abs(up) + 1.0) if up < INF else up
            self.h.changeRowBounds(row, lo2, up2)
            self.extra_rows[i] = (row, lo2, up2)

    def solve(self) -> float:
        """Run the simplex (warm from the current basis) and return the optimum.

        The first run is HiGHS's dual simplex from a crash basis (no presolve). Later runs restart
        from the basis: after a cost change with the primal simplex (the basis is still
        primal feasible, often already optimal), after a bound change with the dual
        simplex (the basis is still dual feasible).

        Raises
        ------
        LpError
            When HiGHS does not report an optimal model, even after a cold restart.
        """
        if self.solves:
            # warm start: pick the simplex variant that keeps the previous basis feasible
            self.h.setOptionValue("simplex_strategy", self._strategy)
        self.h.run()
        self.solves += 1
        status = self.h.getModelStatus()
        if status != _OPTIMAL:
            # numerical rescue: retry from scratch, then with the stage rows widened
            LpHandle.rescues += 1
            for rel in (0.0, 1e-7, 1e-6):
                if rel:
                    self._relax_extra_rows(rel)
                self.h.clearSolver()
                self.h.run()
                self.solves += 1
                status = self.h.getModelStatus()
                if status == _OPTIMAL:
                    break
            else:
                raise LpError(f"HiGHS: {self.h.modelStatusToString(status)}")
        info = self.h.getInfo()
        self.iterations += int(info.simplex_iteration_count)
        return float(info.objective_function_value)

    def x(self) -> np.ndarray:
        """The current primal solution (all columns)."""
        return np.asarray(self.h.getSolution().col_value, dtype=float)
