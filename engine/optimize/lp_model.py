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

:func:`build_model` assembles it in named parts (:func:`_layout_columns` for the columns and their
bounds, then one function per family of rows, then :func:`_column_wise`);
:class:`~engine.optimize.highs.LpHandle` loads it into HiGHS. The column families are the
fields of :class:`CabinetModel`: ``p`` -> ``power_*``, ``c``/``d``/``e`` -> ``charge_cols``/
``discharge_cols``/``stored_cols``, ``o`` -> ``overload_cols``, ``imp`` -> ``import_cols``,
``z`` -> ``fairness_col``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.optimize.cabinet_input import CabinetInput
from engine.optimize.highs import INF, LpHandle

__all__ = ["CabinetModel", "build_model"]


@dataclass(eq=False)
class CabinetModel:
    """The sparse LP of one cabinet, ready for HiGHS (column-wise arrays).

    Attributes
    ----------
    inp : CabinetInput
    n_col, n_row : int
    power_start : ndarray
        The ``p`` columns of session s are ``power_start[s]:power_start[s+1]``.
    power_session, power_step : ndarray
        Session index and step of every ``p`` column.
    charge_cols, discharge_cols, stored_cols : ndarray or None
        The battery's ``c``, ``d``, ``e`` column per step (``None`` without a battery).
    overload_cols : ndarray
        The ``o`` column per step.
    import_cols : ndarray or None
        Import columns, one per step of ``import_steps`` (``None`` without the cost stage).
    import_steps : ndarray
        Steps that have an import column: every step with a battery, else the steps
        where PV exceeds the other load (elsewhere import = net load >= 0).
    fairness_col : int or None
        Column of the fairness variable ``z`` (``None`` without fairness rows).
    fair_sessions : ndarray of bool
        Sessions with a fairness row.
    col_lower, col_upper, row_lower, row_upper : ndarray
    a_start, a_index, a_value : ndarray
        Column-wise sparse matrix.
    """

    inp: CabinetInput
    n_col: int
    n_row: int
    power_start: np.ndarray
    power_session: np.ndarray
    power_step: np.ndarray
    charge_cols: np.ndarray | None
    discharge_cols: np.ndarray | None
    stored_cols: np.ndarray | None
    overload_cols: np.ndarray
    import_cols: np.ndarray | None
    import_steps: np.ndarray
    fairness_col: int | None
    fair_sessions: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray

    def handle(self, cost: np.ndarray | None = None) -> LpHandle:
        """The model loaded into a new HiGHS handle (``cost`` minimised; default 0)."""
        return LpHandle(self.n_col, self.n_row, self.col_lower, self.col_upper, self.row_lower, self.row_upper,
                        self.a_start, self.a_index, self.a_value, cost)

    @property
    def n_p(self) -> int:
        """Number of ``p`` columns."""
        return int(self.power_start[-1])

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
        has[self.import_steps] = True
        imp = self.import_cols if self.import_cols is not None else np.zeros(0, dtype=np.int64)
        pm = ~has[self.power_step]
        cols = np.concatenate([imp, np.flatnonzero(pm)])
        coef = np.concatenate([pw[self.import_steps], pw[self.power_step[pm]]])
        const = float(np.sum((pw * inp.base_load_kw)[~has]))
        return cols, coef, const


@dataclass(eq=False)
class _Columns:
    """The column layout of a cabinet LP and each column's bounds (see :class:`CabinetModel`)."""

    power_start: np.ndarray
    power_session: np.ndarray
    power_step: np.ndarray
    charge: np.ndarray | None
    discharge: np.ndarray | None
    stored: np.ndarray | None
    overload: np.ndarray
    imports: np.ndarray | None
    import_steps: np.ndarray
    fairness: int | None
    fair_sessions: np.ndarray
    n_col: int
    lower: np.ndarray
    upper: np.ndarray


@dataclass(eq=False)
class _Rows:
    """Triplets ``(row, column, value)`` and row bounds, gathered family by family."""

    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    n_row: int = 0

    def add(self, r: np.ndarray, cc: np.ndarray, v: np.ndarray | float) -> None:
        """Entries ``A[r, cc] = v`` (``v`` broadcast to ``r``'s shape)."""
        self.rows.append(r)
        self.cols.append(cc)
        self.vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))

    def bounds(self, lower: np.ndarray, upper: np.ndarray) -> int:
        """Close a family of ``len(lower)`` rows; returns the first row of the next one."""
        self.lower.append(lower)
        self.upper.append(upper)
        self.n_row += len(lower)
        return self.n_row


def _layout_columns(inp: CabinetInput, *, with_import: bool, with_fairness: bool) -> _Columns:
    """Number the columns (``p``, battery ``c d e``, ``o``, ``imp``, ``z``) and bound them."""
    T = inp.horizon_steps
    S = len(inp.session_ids)
    n = np.maximum(inp.hi - inp.lo, 0).astype(np.int64)
    power_start = np.zeros(S + 1, dtype=np.int64)
    np.cumsum(n, out=power_start[1:])
    N = int(power_start[-1])
    power_session = np.repeat(np.arange(S, dtype=np.int64), n)
    power_step = np.arange(N, dtype=np.int64) - power_start[power_session] + inp.lo[power_session]
    steps = np.arange(T, dtype=np.int64)

    col = N
    lower = [np.zeros(N)]
    upper = [np.where(inp.energy_kwh[power_session] > 0, inp.max_kw[power_session], 0.0)]
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
    import_steps = np.zeros(0, dtype=np.int64)
    if with_import:
        # import variables only where net load can be negative (battery, or PV above the
        # other load); elsewhere import = net >= 0 is linear in the EV powers already
        if bat is not None:
            import_steps = steps.copy()
        else:
            import_steps = np.flatnonzero(inp.pv_kw > inp.other_load_kw).astype(np.int64)
        imp = col + np.arange(import_steps.size, dtype=np.int64)
        col += import_steps.size
        lower.append(np.zeros(import_steps.size))
        upper.append(np.full(import_steps.size, INF))
    fair = (inp.energy_kwh > 0) if with_fairness else np.zeros(S, dtype=bool)
    z = None
    if fair.any():
        z = col
        col += 1
        lower.append(np.zeros(1))
        upper.append(np.ones(1))
    return _Columns(power_start, power_session, power_step, c, d, e, o, imp, import_steps, z, fair, col,
                    np.concatenate(lower), np.concatenate(upper))


def _threshold_rows(inp: CabinetInput, k: _Columns, rows: _Rows) -> None:
    """``sum_s p[s,t] + c[t] - d[t] - o[t] <= thr[t] - other[t] + pv[t]``, one row per step."""
    T = inp.horizon_steps
    steps = np.arange(T, dtype=np.int64)
    r0 = rows.n_row
    rows.add(r0 + k.power_step, np.arange(k.power_step.size, dtype=np.int64), 1.0)
    if k.charge is not None and k.discharge is not None:
        rows.add(r0 + steps, k.charge, 1.0)
        rows.add(r0 + steps, k.discharge, -1.0)
    rows.add(r0 + steps, k.overload, -1.0)
    rows.bounds(np.full(T, -INF), inp.threshold_kw - (inp.other_load_kw - inp.pv_kw))


def _import_rows(inp: CabinetInput, k: _Columns, rows: _Rows) -> None:
    """``imp[t] - sum_s p[s,t] - c[t] + d[t] >= other[t] - pv[t]`` at the steps with an import column."""
    if k.imports is None or not k.import_steps.size:
        return
    T = inp.horizon_steps
    r0 = rows.n_row
    row_of = np.full(T, -1, dtype=np.int64)
    row_of[k.import_steps] = r0 + np.arange(k.import_steps.size)
    rows.add(r0 + np.arange(k.import_steps.size), k.imports, 1.0)
    pm = row_of[k.power_step] >= 0
    rows.add(row_of[k.power_step[pm]], np.flatnonzero(pm), -1.0)
    if k.charge is not None and k.discharge is not None:
        steps = np.arange(T, dtype=np.int64)
        rows.add(r0 + steps, k.charge, -1.0)
        rows.add(r0 + steps, k.discharge, 1.0)
    rows.bounds((inp.other_load_kw - inp.pv_kw)[k.import_steps].copy(), np.full(k.import_steps.size, INF))


def _energy_rows(inp: CabinetInput, k: _Columns, rows: _Rows) -> None:
    """``sum_t p[s,t] dt <= energy_kwh[s]``, one row per session."""
    r0 = rows.n_row
    rows.add(r0 + k.power_session, np.arange(k.power_step.size, dtype=np.int64), inp.w[k.power_step])
    rows.bounds(np.full(len(inp.session_ids), -INF), inp.energy_kwh.astype(float))


def _battery_rows(inp: CabinetInput, k: _Columns, rows: _Rows) -> None:
    """``e[t+1] - e[t] - eff dt c[t] + dt/eff d[t] = 0`` (``= e[0]`` for t = 0)."""
    bat = inp.battery
    if bat is None or k.stored is None:
        return
    T = inp.horizon_steps
    steps = np.arange(T, dtype=np.int64)
    r0 = rows.n_row
    eff = float(bat.efficiency)
    rows.add(r0 + steps, k.stored, 1.0)
    rows.add(r0 + steps[1:], k.stored[:-1], -1.0)
    rows.add(r0 + steps, k.charge, -eff * inp.w)
    rows.add(r0 + steps, k.discharge, inp.w / eff)
    rhs = np.zeros(T)
    rhs[0] = bat.energy_kwh
    rows.bounds(rhs, rhs.copy())


def _fairness_rows(inp: CabinetInput, k: _Columns, rows: _Rows) -> None:
    """``sum_t p[s,t] dt / energy_kwh[s] - z >= 0`` for the sessions with energy > 0."""
    if k.fairness is None:
        return
    S = len(inp.session_ids)
    w = inp.w
    r0 = rows.n_row
    fidx = np.flatnonzero(k.fair_sessions)
    frow = np.full(S, -1, dtype=np.int64)
    frow[fidx] = r0 + np.arange(fidx.size)
    pm = k.fair_sessions[k.power_session]
    ps, pt = k.power_session[pm], k.power_step[pm]
    rows.add(frow[ps], np.flatnonzero(pm), w[pt] / inp.energy_kwh[ps])
    rows.add(r0 + np.arange(fidx.size), np.full(fidx.size, k.fairness, dtype=np.int64), -1.0)
    rows.bounds(np.zeros(fidx.size), np.full(fidx.size, INF))


def _column_wise(rows: _Rows, n_col: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triplets as a column-wise matrix ``(a_start, a_index, a_value)``."""
    r = np.concatenate(rows.rows)
    cc = np.concatenate(rows.cols)
    v = np.concatenate(rows.vals)
    order = np.lexsort((r, cc))
    a_start = np.zeros(n_col + 1, dtype=np.int32)
    np.cumsum(np.bincount(cc[order], minlength=n_col), out=a_start[1:])
    return a_start, r[order].astype(np.int32), v[order].astype(float)


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
    k = _layout_columns(inp, with_import=with_import, with_fairness=with_fairness)
    rows = _Rows()
    for family in (_threshold_rows, _import_rows, _energy_rows, _battery_rows, _fairness_rows):
        family(inp, k, rows)
    a_start, a_index, a_value = _column_wise(rows, k.n_col)
    return CabinetModel(
        inp=inp,
        n_col=k.n_col,
        n_row=rows.n_row,
        power_start=k.power_start,
        power_session=k.power_session,
        power_step=k.power_step,
        charge_cols=k.charge,
        discharge_cols=k.discharge,
        stored_cols=k.stored,
        overload_cols=k.overload,
        import_cols=k.imports,
        import_steps=k.import_steps,
        fairness_col=k.fairness,
        fair_sessions=k.fair_sessions,
        col_lower=k.lower,
        col_upper=k.upper,
        row_lower=np.concatenate(rows.lower) if rows.lower else np.zeros(0),
        row_upper=np.concatenate(rows.upper) if rows.upper else np.zeros(0),
        a_start=a_start,
        a_index=a_index,
        a_value=a_value,
    )
