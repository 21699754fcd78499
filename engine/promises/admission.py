"""The admission model: which drivers can be served in full, on blocks of steps (HiGHS).

Used by :func:`engine.promises.policy.decide_promises`; ``docs/promises.md`` explains the model
and its measurements.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix

from engine.optimize.highs import INF, load_lp, optimum
from engine.optimize.scenario import Scenario
from engine.promises.cars import EPS_KWH, Car, headroom

__all__ = ["AdmissionModel"]


class AdmissionModel:
    """The admission model on blocks of steps (see :meth:`build`).

    Fine blocks lie between the windows' ends of the cars present and requesting and the
    multiples of the forecast grid; coarse blocks are the grid's (an hour). A car present or
    requesting has one column per fine block of its window; an expected car (its window on
    the grid) one per coarse block. Each fine block bounds its cars' energy by its headroom,
    each coarse block everyone's: for the expected cars a relaxation inside the hour.
    """

    def __init__(self, scenario: Scenario, cabinet_id: str, cars: list[Car], grid: int) -> None:
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
        head = headroom(scenario, cabinet_id, end)
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
        a = coo_matrix((vals, (rows, cols)), shape=(r_ch + nz, n)).tocsc()
        self.cost = np.zeros(n)
        self.cost[nx:] = -np.asarray(objective_weight, dtype=float)[choose]
        self.h = load_lp(np.zeros(n), np.concatenate([self.x_ub, np.ones(nz)]),
                         np.concatenate([np.full(nb + nq, -INF), floor, np.zeros(nz)]),
                         np.concatenate([self.cap, self.cap_coarse, need + 1e-9, np.full(nz, INF)]),
                         a.indptr, a.indices, a.data, self.cost)
        self.n = n
        self.need_w = need
        self.binary = np.array([cars[k].kind != "expected" for k in choose], dtype=bool)

    def _run(self) -> np.ndarray | None:
        return optimum(self.h)

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
