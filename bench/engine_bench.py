"""Benchmark of the scheduling engine (prints figures; tests never assert timings).

Run from the project root::

    python3 bench/engine_bench.py            # all figures
    python3 bench/engine_bench.py --repeat 5

Figures:

* plan of 50 EVs x 288 five-minute steps on one cabinet, beside one plain HiGHS solve
  of the same stage-2 LP (maximise delivered energy, cold start, default options);
* plan of 200 EVs x 288 steps in 4 cabinets, beside one plain HiGHS solve of the
  whole site's stage-2 LP (the four cabinets in one model); the ratio must stay <= 3;
  the same again with the planner forced onto the per-step LP (no block aggregation),
  for comparison;
* a quote on a 50-session cabinet (all sessions guaranteed, as in the online replay).

Scenarios are random but realistic: arrivals 6-12 h, stays 2-10 h, 5-40 kWh, 6.6 kW
charge points, thresholds tight enough that not all demand is met, PV on one cabinet
(15-min resolution, as measured PV data), a battery on another, other load on a third,
a time-of-use price.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.optimize.highs import LpHandle
from engine.optimize.lp_model import build_model
from engine.optimize.cabinet_input import cabinet_input  # noqa: E402
from engine.optimize.planner import plan  # noqa: E402
from engine.optimize.quote import quote  # noqa: E402
from engine.optimize.scenario import Scenario, SessionSpec
from engine.optimize.scenario_json import parse_scenario  # noqa: E402


def tou_price(T: int, step_minutes: float) -> list[float]:
    """A time-of-use price per step [currency/kWh]: off-peak, mid, peak 16-21 h."""
    hours = (np.arange(T) * step_minutes / 60.0) % 24
    price = np.where((hours >= 16) & (hours < 21), 0.45, np.where((hours >= 8) & (hours < 16), 0.22, 0.12))
    return [float(x) for x in price]


def make_scenario(
    n_ev: int,
    n_cab: int,
    *,
    seed: int = 1,
    T: int = 288,
    step_minutes: float = 5.0,
    threshold_kw: float | None = None,
    guaranteed: bool = False,
) -> dict[str, Any]:
    """A random realistic scenario dict (see the module docstring).

    Parameters
    ----------
    n_ev : int
        Number of sessions, spread evenly over the cabinets.
    n_cab : int
        Number of cabinets (1-4 get PV / battery / other load in turn).
    seed : int
    T : int
        Horizon [steps].
    step_minutes : float
        Step length [min].
    threshold_kw : float, optional
        Threshold per cabinet [kW]; default about 45 % of the sessions' peak demand.
    guaranteed : bool
        Mark every session guaranteed.

    Returns
    -------
    dict
        Scenario JSON object.
    """
    rng = np.random.default_rng(seed)
    per_h = 60.0 / step_minutes
    hours = np.arange(T) / per_h
    cabinets = []
    cps = []
    sessions = []
    per_cab = [n_ev // n_cab + (1 if i < n_ev % n_cab else 0) for i in range(n_cab)]
    for k in range(n_cab):
        cid = f"POD-{chr(65 + k)}"
        n = per_cab[k]
        thr = threshold_kw if threshold_kw is not None else round(0.45 * 6.6 * n * 0.6, 1)
        cab: dict[str, Any] = {"id": cid, "threshold_kw": thr}
        if k % 4 == 0:  # PV, bell-shaped 6-20 h, 15-min resolution like measured PV (NREL SERF)
            quarter = np.floor(hours * 4) / 4
            pv = np.clip(np.sin((quarter - 6) / 14 * np.pi), 0, None) * 0.35 * thr
            cab["pv_kw"] = [float(x) for x in pv]
        if k % 4 == 1:  # battery
            cab["battery"] = {
                "capacity_kwh": 60.0,
                "energy_kwh": 30.0,
                "min_energy_kwh": 6.0,
                "max_charge_kw": 20.0,
                "max_discharge_kw": 20.0,
                "efficiency": 0.95,
            }
        if k % 4 == 2:  # other load: a building, higher by day
            other = 0.1 * thr + 0.15 * thr * ((hours >= 8) & (hours < 18))
            cab["other_load_kw"] = [float(x) for x in other]
        cabinets.append(cab)
        for i in range(n):
            cp = f"{cid}-CP{i:03d}"
            cps.append({"id": cp, "cabinet": cid, "rated_kw": 6.6})
            arr = int(rng.uniform(6, 12) * per_h)
            stay = int(rng.uniform(2, 10) * per_h)
            sessions.append(
                {
                    "id": f"{cid}-s{i:03d}",
                    "cp": cp,
                    "arrival_step": arr,
                    "departure_step": min(arr + max(stay, 1), T),
                    "energy_kwh": round(float(rng.uniform(5, 40)), 2),
                    "guaranteed": guaranteed,
                }
            )
    return {
        "step_minutes": step_minutes,
        "horizon_steps": T,
        "start": "2019-05-06T00:00:00-07:00",
        "price_per_kwh": tou_price(T, step_minutes),
        "cabinets": cabinets,
        "charge_points": cps,
        "sessions": sessions,
    }


def plain_stage2_seconds(scenario: Scenario) -> float:
    """Time of one plain HiGHS solve of the whole site's stage-2 LP [s].

    All cabinets in one block-diagonal model, objective "maximise delivered energy",
    overload fixed at zero where the base load allows it, cold start, default options.
    """
    models = [build_model(cabinet_input(scenario, c.id), with_import=False, with_fairness=False) for c in scenario.cabinets]
    cost, lo, up, rlo, rup, starts, idx, val = [], [], [], [], [], [], [], []
    col0 = row0 = nz0 = 0
    for m in models:
        inp = m.inp
        c = np.zeros(m.n_col)
        c[: m.n_p] = -inp.dt
        u = m.col_upper.copy()
        if not np.any(inp.base_load_kw - inp.threshold_kw > 0):
            u[m.overload_cols] = 0.0
        cost.append(c)
        lo.append(m.col_lower)
        up.append(u)
        rlo.append(m.row_lower)
        rup.append(m.row_upper)
        starts.append(m.a_start[:-1] + nz0)
        idx.append(m.a_index + row0)
        val.append(m.a_value)
        col0 += m.n_col
        row0 += m.n_row
        nz0 += int(m.a_index.size)
    starts.append(np.array([nz0], dtype=np.int32))
    handle = LpHandle(
        col0,
        row0,
        np.concatenate(lo),
        np.concatenate(up),
        np.concatenate(rlo),
        np.concatenate(rup),
        np.concatenate(starts).astype(np.int32),
        np.concatenate(idx).astype(np.int32),
        np.concatenate(val),
        np.concatenate(cost),
    )
    handle.h.setOptionValue("solver", "choose")
    t0 = time.perf_counter()
    handle.solve()
    return time.perf_counter() - t0


def _median_time(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_plan(n_ev: int, n_cab: int, repeat: int, *, blocks: bool = True) -> float:
    """Print plan time vs one plain stage-2 solve; returns the ratio.

    The two are timed alternately (plan, reference, plan, ...) so that load from other
    processes on the machine hits both alike; medians are compared.
    """
    sc = parse_scenario(make_scenario(n_ev, n_cab, seed=7))
    plan(sc, blocks=blocks)  # warm-up (imports, allocator)
    plans, refs, cpu_plans, cpu_refs, p = [], [], [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        p = plan(sc, blocks=blocks)
        plans.append(time.perf_counter() - t0)
        cpu_plans.append(time.process_time() - c0)
        c0 = time.process_time()
        refs.append(plain_stage2_seconds(sc))
        cpu_refs.append(time.process_time() - c0)
    t_plan, t_ref = statistics.median(plans), statistics.median(refs)
    cpu_plan, cpu_ref = statistics.median(cpu_plans), statistics.median(cpu_refs)
    assert p is not None
    solves = sum(c.lp_solves for c in p.cabinets)
    iters = sum(c.iterations for c in p.cabinets)
    ratio = t_plan / t_ref
    pct = 100 * p.totals["delivered_kwh"] / p.totals["requested_kwh"]
    print(
        f"plan {n_ev} EVs x 288 steps, {n_cab} cabinet(s){'' if blocks else ', per-step LP (no blocks)'}: {t_plan * 1000:8.1f} ms "
        f"({solves} simplex runs, {iters} iterations; {pct:.1f} % of {p.totals['requested_kwh']:.0f} kWh delivered) | "
        f"plain stage-2 HiGHS solve {t_ref * 1000:8.1f} ms | ratio {ratio:.2f}\n"
        f"    CPU time (all threads): plan {cpu_plan * 1000:.1f} ms, plain solve incl. model load {cpu_ref * 1000:.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return ratio


def bench_quote(n_sessions: int, repeat: int) -> float:
    """Print the quote time on a cabinet with ``n_sessions`` guaranteed sessions [s]."""
    d = make_scenario(n_sessions, 1, seed=11, guaranteed=True, threshold_kw=80.0)
    d["charge_points"].append({"id": "KIOSK", "cabinet": "POD-A", "rated_kw": 6.6})
    sc = parse_scenario(d)
    req = SessionSpec(id="new", cp="KIOSK", arrival_step=120, departure_step=180, energy_kwh=25.0)
    t_q, q = _median_time(lambda: quote(sc, req), repeat)
    print(
        f"quote on a {n_sessions}-session cabinet (all guaranteed): {t_q * 1000:8.1f} ms "
        f"(feasible={q.feasible}, max_kwh={q.max_kwh:.2f}, earliest_departure_step={q.earliest_departure_step})"
    )
    return t_q


def main(argv: list[str] | None = None) -> int:
    """Run every figure."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="runs per figure (median is printed)")
    args = ap.parse_args(argv)
    bench_plan(50, 1, args.repeat)
    ratio = bench_plan(200, 4, args.repeat)
    bench_plan(200, 4, args.repeat, blocks=False)
    bench_quote(50, max(args.repeat, 5))
    print(f"acceptance: 200 EVs x 288 steps in 4 cabinets ratio {ratio:.2f} (must be <= 3): {'OK' if ratio <= 3 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
