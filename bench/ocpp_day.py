"""A whole day of the sample site's charge points over OCPP 1.6J on loopback: time and fidelity.

    python bench/ocpp_day.py [--site data/site.json] [--step 5] [--sessions 2] [--amps N]

Starts :class:`gateway.ocpp16.port.OcppChargers` with ``simulate=True`` (central system and
simulated charge points in one process, on a stepped clock), drives a synthetic day with the
fair-share planner of :mod:`gateway.ocpp16.day`, and prints the wall time, the OCPP frames,
the errors, the worst cabinet excess and the largest per-session energy difference from the
same day on bare car physics (:func:`gateway.ocpp16.day.reference_day`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.site.model import load_site  # noqa: E402
from gateway.ocpp16.day import reference_day, run_day, synthetic_cars  # noqa: E402
from gateway.ocpp16.port import OcppChargers  # noqa: E402
from gateway.ocpp16.profiles import from_unit, to_unit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", default="data/site.json")
    ap.add_argument("--step", type=float, default=5.0, help="control step [min]")
    ap.add_argument("--sessions", type=int, default=2, help="cars per charge point")
    ap.add_argument("--amps", type=int, default=0, help="this many charge points take profiles in A")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    site = load_site(args.site)
    tz = ZoneInfo(site.timezone)
    start = datetime(2026, 3, 2, tzinfo=tz)
    arrivals = synthetic_cars(site, start, seed=args.seed, sessions_per_cp=args.sessions)
    volts = float(site.extra.get("voltage_v") or 230.0)
    amp_cps = {a.id for a in site.charge_points[: args.amps]}

    def limit_of(cp: str, kw: float) -> float:
        unit = "A" if cp in amp_cps else "W"
        return from_unit(to_unit(kw, unit, voltage_v=volts, phases=1), unit, voltage_v=volts, phases=1)

    ref = reference_day(site, arrivals, start=start, step_min=args.step, limit_of=limit_of)
    clock = [start]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as state:
        port = OcppChargers(
            site, port=0, state_dir=state, simulate=True, clock=lambda: clock[0],
            sim_units={cp: "A" for cp in amp_cps},
        )
        t1 = time.perf_counter()
        try:
            res = run_day(port, site, arrivals, start=start, clock=clock, step_min=args.step)
        finally:
            t2 = time.perf_counter()
            port.close()
    worst = max(abs(res.energy_kwh.get(k, 0.0) - v) for k, v in ref.items())
    print(f"site {site.name}: {len(site.charge_points)} charge points, {len(arrivals)} sessions, {res.steps} steps of {args.step:g} min")
    print(f"start {t1 - t0:.2f} s, day {t2 - t1:.2f} s ({1000 * (t2 - t1) / res.steps:.0f} ms/step)")
    print(f"ocpp_messages {port.ocpp_messages}, ocpp_errors {port.ocpp_errors}")
    print(f"worst cabinet excess over threshold {res.peak_over_kw:.3f} kW")
    print(f"energy {sum(res.energy_kwh.values()):.3f} kWh over OCPP vs {sum(ref.values()):.3f} kWh on bare physics; worst session difference {1000 * worst:.2f} Wh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
