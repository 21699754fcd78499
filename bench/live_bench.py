"""A real busy day of the sample site through the whole live stack, headless, with figures.

    python bench/live_bench.py                       # 2019-10-29 (50 sessions), embedded chain, 1 h outage
    python bench/live_bench.py --day 2019-06-14 --no-outage
    python bench/live_bench.py --days 2019-10-29 2019-06-14 2019-05-07 2019-10-22 --no-chain

Prints, per day, what ``python -m engine run --headless --json`` prints: sessions, promises and
promises met, overload, statuses posted / lost / duplicated, gas per charge point per day,
re-plans and their median and worst time, wall time; then a total line.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runtime.headless import run_day  # noqa: E402
from engine.site.model import load_site  # noqa: E402
from engine.site.store import DEFAULT_SITE  # noqa: E402

COLS = ["day", "sessions", "promises", "promises_met", "overload_kwh", "statuses_posted", "statuses_lost",
        "statuses_duplicated", "gas_per_cp_day", "replans", "replan_ms_median", "replan_ms_max", "wall_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", nargs="+", default=["2019-10-29"], help="site-local days (YYYY-MM-DD)")
    ap.add_argument("--day", dest="days", nargs=1, help="one day")
    ap.add_argument("--outage", default="10:00-11:00", help="chain outage window (HH:MM-HH:MM)")
    ap.add_argument("--no-outage", action="store_true")
    ap.add_argument("--no-chain", action="store_true")
    ap.add_argument("--chargers", default="sim", help="sim or ocpp")
    a = ap.parse_args()
    site = load_site(DEFAULT_SITE)
    print(" | ".join(COLS))
    tot = {"promises": 0, "promises_met": 0, "overload_kwh": 0.0, "statuses_lost": 0, "statuses_duplicated": 0}
    for d in a.days:
        f = run_day(site, date.fromisoformat(d), chain=not a.no_chain, chargers=a.chargers,
                    outage=None if a.no_outage else a.outage)
        print(" | ".join(str(f.get(c)) for c in COLS), flush=True)
        for k in tot:
            tot[k] += f[k]
    print(f"total: promises met {tot['promises_met']}/{tot['promises']}, overload {tot['overload_kwh']:.6f} kWh, "
          f"statuses lost {tot['statuses_lost']}, duplicated {tot['statuses_duplicated']}")


if __name__ == "__main__":
    main()
