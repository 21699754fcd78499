"""HiGHS, the one place that assembles a model: a silent instance, a column-wise LP, a warm-started handle.

:func:`load_lp` passes a column-wise sparse LP to a new silent instance (:func:`new_highs`);
:func:`optimum` reads its solution; :class:`LpHandle` keeps one instance on a model so that
successive stages only change the cost vector or bounds, add a row and re-run the simplex from
the previous basis. Every LP of the engine goes through here: the planner's stages, the quote,
the deadline split (:mod:`engine.optimize.tiebreak`) and the promise admission
(:mod:`engine.promises`).
"""

from __future__ import annotations

import highspy
import numpy as np

__all__ = ["INF", "LpError", "new_highs", "load_lp", "optimum", "LpHandle"]

INF = highspy.kHighsInf
"""HiGHS's infinity (an absent bound)."""


class LpError(RuntimeError):
    """HiGHS did not reach an optimal solution (should not happen: every model is feasible)."""


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


def load_lp(
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    a_start: np.ndarray,
    a_index: np.ndarray,
    a_value: np.ndarray,
    cost: np.ndarray | None = None,
    highs: highspy.Highs | None = None,
) -> highspy.Highs:
    """Pass the LP ``min cost . x`` s.t. ``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``.

    Parameters
    ----------
    col_lower, col_upper : ndarray
        Column bounds (``INF`` for none); their length is the number of columns.
    row_lower, row_upper : ndarray
        Row bounds; their length is the number of rows.
    a_start, a_index, a_value : ndarray
        The matrix column-wise: column j's entries are ``a_index[a_start[j]:a_start[j+1]]``
        (row indices) with ``a_value`` of the same slice.
    cost : ndarray, optional
        The cost vector (minimised; default 0).
    highs : highspy.Highs, optional
        The instance to load into (default a new silent one, :func:`new_highs`).

    Returns
    -------
    highspy.Highs
        The instance holding the model, not yet run.
    """
    n_col, n_row = len(col_lower), len(row_lower)
    lp = highspy.HighsLp()
    lp.num_col_ = int(n_col)
    lp.num_row_ = int(n_row)
    lp.col_cost_ = np.zeros(n_col) if cost is None else np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lower, dtype=float)
    lp.col_upper_ = np.asarray(col_upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = int(n_col)
    lp.a_matrix_.num_row_ = int(n_row)
    lp.a_matrix_.start_ = np.asarray(a_start, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(a_index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(a_value, dtype=float)
    h = new_highs() if highs is None else highs
    h.passModel(lp)
    return h


def optimum(h: highspy.Highs) -> np.ndarray | None:
    """Run ``h`` and return its primal solution, or None when HiGHS reports no optimum."""
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, dtype=float)


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
        The model, column-wise (see :func:`load_lp`).
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
        load_lp(col_lower, col_upper, row_lower, row_upper, a_start, a_index, a_value, cost, highs=self.h)
        self.solves = 0
        self.iterations = 0
        self.extra_rows: list[tuple[int, float, float]] = []
        self._strategy = _PRIMAL

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
