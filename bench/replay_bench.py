"""Replay benchmark: a week of Caltech sessions at 5-minute steps through every strategy.

    python bench/replay_bench.py [--start 2019-05-06] [--days 7] [--threshold-kw 25] [--replan-every]

Prints, per strategy (mpc with its default promise policy and with ``fcfs``), the wall time and
the KPIs (energy delivered, demands met, promises kept / made, peak, overload, cost, median
decision time). The acceptance target is mpc under 60 s for the week. ``offline_met`` solves one
MILP over the whole week (its time limit is 120 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.replay import ALGORITHMS, ReplayConfig, load_window, run_replay  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", default="2019-05-06")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--step-minutes", type=int, default=5)
    p.add_argument("--threshold-kw", type=float, nargs="+", default=[25.0, 40.0])
    p.add_argument("--replan-every", action="store_true", help="also time mpc re-planning every step")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    window = load_window(None, args.start, args.days, args.step_minutes)
    print(f"loaded {window.n} Caltech sessions, {args.start} + {args.days} days, {window.horizon_steps} steps "
          f"of {args.step_minutes} min in {time.perf_counter() - t0:.2f} s; skipped {window.report.skipped}, "
          f"clipped {window.report.clipped}")
    header = f"{'threshold':>9} {'algorithm':<14} {'wall s':>8} {'deliv %':>8} {'met %':>7} {'peak kW':>8} " \
             f"{'kept/made':>9} {'over kWh':>9} {'cost $':>8} {'solve ms':>9}"
    print(header)
    print("-" * len(header))
    for thr in args.threshold_kw:
        runs = [(a, ReplayConfig(threshold_kw=thr)) for a in ALGORITHMS]
        runs.insert(ALGORITHMS.index("mpc") + 1, ("mpc", ReplayConfig(threshold_kw=thr, promise_policy="fcfs")))
        if args.replan_every:
            runs.append(("mpc", ReplayConfig(threshold_kw=thr, replan="every")))
        for name, cfg in runs:
            t = time.perf_counter()
            k = run_replay(window, name, cfg).kpis
            wall = time.perf_counter() - t
            label = name + (" (every)" if cfg.replan == "every" and name == "mpc" else "")
            label += " fcfs" if name == "mpc" and cfg.promise_policy == "fcfs" else ""
            kept = f"{k['promises_kept']}/{k['promises']}"
            print(f"{thr:>9g} {label:<14} {wall:>8.2f} {k['energy_delivered_pct']:>8.2f} {k['demands_met_pct']:>7.2f} "
                  f"{k['peak_kw']:>8.1f} {kept:>9} {k['overload_kwh']:>9.2f} {k['energy_cost']:>8.2f} {k['solve_ms_median']:>9.3f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
