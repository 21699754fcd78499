"""Generate the sample site ``data/site.json`` and the derived profiles in ``data/profiles/``.

The site is the Caltech ACN garage (California Parking Garage, Pasadena CA) with its 54 real
EVSE ids and groups from ``caltech_acn_topology.json`` (facts from acnportal, BSD-3):

* the ClipperCreek and AeroVironment pods (8 EVSEs behind one 80 A breaker each) are cabinets
  of their own: 80 A x 208 V = 16.64 kW;
* the other EVSEs hang on the 150 kVA transformer's line pairs (A-B, B-C, C-A), 150/3 = 50 kW each.
  Line pair A-B also carries both pods, so its own cabinet keeps 50 - 2 x 16.64 = 16.72 kW.
  B-C and C-A (14 EVSEs each) are split into two cabinets of 7 with 25 kW each.

Added equipment (so every kind of group exists): rooftop PV inverters on BC-NORTH and CA-WEST,
a stationary battery on BC-SOUTH, lighting + ventilation on AB-PANEL, the elevator on CA-WEST.

Run from the repository root: ``python scripts/make_site.py --raw RAW``, where ``RAW`` is a folder
holding the raw data sets (``sites/caltech_acn_topology.json`` from acnportal, ``pv/`` the NREL
SERF PV series via pvanalytics, ``citylearn/`` CityLearn's building and pricing files; their
sources and licences are in ``data/profiles/README.md``). The repository ships the outputs, so
nobody needs to run this to use or test the project.
The output is deterministic (same inputs, same bytes).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.site.model import site_from_dict, site_to_dict  # noqa: E402

CENTRE_LAT = 34.13700  # [deg] California Parking Garage, Wilson Ave, Pasadena
CENTRE_LON = -118.12500  # [deg]
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTRE_LAT))
VOLTAGE_V = 208.0
EVSE_KW = round(32 * VOLTAGE_V / 1000, 3)  # 6.656 kW
POD_KW = round(80 * VOLTAGE_V / 1000, 2)  # 16.64 kW
LINE_PAIR_KW = 150.0 / 3  # 50 kW per line pair of the 150 kVA transformer
SPACE_M = 2.7  # width of a parking space [m]
ROW_M = 10.0  # distance between rows of spaces [m]
FIRST_SPACE_X = -22.0  # x of the first space in a row [m east of centre]


def xy_to_latlon(x_m: float, y_m: float) -> tuple[float, float]:
    """Metres east/north of the site centre -> (lat, lon) [deg], rounded to 1e-6 deg (chain unit)."""
    return round(CENTRE_LAT + y_m / M_PER_DEG_LAT, 6), round(CENTRE_LON + x_m / M_PER_DEG_LON, 6)


def build_site(topology: dict) -> dict:
    """The site JSON (engine.site schema) from the ACN topology."""
    groups = {g["id"]: g for g in topology["groups"]}
    # cabinet id, display name, threshold [kW], EVSE ids, row y [m], CP price [USD/kWh]
    ab_kw = round(LINE_PAIR_KW - 2 * POD_KW, 2)
    bc, ca = groups["BC"]["evses"], groups["CA"]["evses"]
    rows = [
        ("CC-POD", "ClipperCreek pod (80 A breaker)", POD_KW, groups["CC-POD"]["evses"], 30.0, 0.11),
        ("AV-POD", "AeroVironment pod (80 A breaker)", POD_KW, groups["AV-POD"]["evses"], 20.0, 0.11),
        ("AB-PANEL", "Line pair A-B panel", ab_kw, groups["AB"]["evses"], 10.0, 0.13),
        ("BC-NORTH", "Line pair B-C north panel", LINE_PAIR_KW / 2, bc[:7], 0.0, 0.13),
        ("BC-SOUTH", "Line pair B-C south panel", LINE_PAIR_KW / 2, bc[7:], -10.0, 0.13),
        ("CA-WEST", "Line pair C-A west panel", LINE_PAIR_KW / 2, ca[:7], -20.0, 0.12),
        ("CA-EAST", "Line pair C-A east panel", LINE_PAIR_KW / 2, ca[7:], -30.0, 0.12),
    ]
    cabinets, assets = [], []
    for cid, name, kw, evses, y, price in rows:
        lat, lon = xy_to_latlon(FIRST_SPACE_X - 6.0, y + 3.0)
        cabinets.append({"id": cid, "name": name, "lat": lat, "lon": lon, "threshold_kw": kw})
        for i, evse in enumerate(evses):
            lat, lon = xy_to_latlon(FIRST_SPACE_X + i * SPACE_M, y)
            assets.append({
                "id": evse, "name": f"EVSE {evse}", "kind": "charge_point", "cabinet": cid,
                "lat": lat, "lon": lon, "rated_kw": EVSE_KW, "price_per_kwh": price,
            })

    def extra(aid, name, kind, cid, x, y, rated, **kw):
        lat, lon = xy_to_latlon(x, y)
        assets.append({"id": aid, "name": name, "kind": kind, "cabinet": cid, "lat": lat, "lon": lon,
                       "rated_kw": rated, **kw})

    extra("PV-N1", "Rooftop PV inverter north 1", "pv_inverter", "BC-NORTH", 0.0, 1.5, 12.0,
          profile="pv_citylearn")
    extra("PV-N2", "Rooftop PV inverter north 2", "pv_inverter", "BC-NORTH", 6.0, 1.5, 8.0,
          profile="pv_citylearn")
    extra("PV-W1", "Rooftop PV inverter west", "pv_inverter", "CA-WEST", 0.0, -18.5, 15.0,
          profile="pv_serf")
    extra("BESS-1", "Stationary battery", "battery", "BC-SOUTH", 0.5, -8.5, 25.0,
          capacity_kwh=60.0, efficiency=0.95, min_soc=0.1, initial_soc=0.5)
    extra("LIGHT-1", "Deck lighting", "other_load", "AB-PANEL", -33.0, 10.0, 2.5, profile="lighting")
    extra("VENT-1", "Ventilation fans", "other_load", "AB-PANEL", 8.0, 14.0, 3.5, profile="ventilation")
    extra("ELEV-1", "Elevator", "other_load", "CA-WEST", -33.0, -20.0, 11.0, profile="elevator")

    site = {
        "name": "Caltech ACN garage, Pasadena",
        "timezone": "America/Los_Angeles",
        "lat": CENTRE_LAT,
        "lon": CENTRE_LON,
        "currency": "USD",
        "voltage_v": VOLTAGE_V,
        "source": "EVSE ids and groups: Caltech ACN (acnportal, BSD-3; Lee et al. 2019); "
                  "PV, battery, loads and layout: illustrative (scripts/make_site.py)",
        "cabinets": cabinets,
        "assets": assets,
    }
    return site_to_dict(site_from_dict(site))  # validate + canonical field order


def build_profiles(shared: Path, out: Path) -> None:
    """Derive normalised PV shapes and the hourly price from the real data sets."""
    out.mkdir(parents=True, exist_ok=True)
    # NREL SERF east: 15-min AC power [W] -> per unit of the observed peak (>= 0)
    with open(shared / "pv" / "serf_east_15min_ac_power.csv") as f:
        rows = list(csv.DictReader(f))
    peak = max(float(r["ac_power"]) for r in rows)
    with open(out / "pv_serf_15min.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time_local", "kw_per_kwp"])
        for r in rows:
            w.writerow([r["measured_on"], f"{max(float(r['ac_power']), 0.0) / peak:.5f}"])
    # CityLearn Building_1: hourly solar_generation [W per kW] (row 0 = 1 Aug 00:00), pricing [$/kWh]
    with open(shared / "citylearn" / "Building_1.csv") as f:
        pv = [float(r["solar_generation"]) for r in csv.DictReader(f)]
    with open(shared / "citylearn" / "pricing.csv") as f:
        price = [float(r["electricity_pricing"]) for r in csv.DictReader(f)]
    with open(out / "citylearn_hourly.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["hour_of_year_from_aug1", "pv_kw_per_kwp", "price_per_kwh"])
        for i, (p, c) in enumerate(zip(pv, price, strict=True)):
            w.writerow([i, f"{p / 1000.0:.5f}", f"{c:.4f}"])
    for src in (shared / "pv" / "LICENSE.pvanalytics-MIT", shared / "citylearn" / "LICENSE.CityLearn-MIT"):
        shutil.copyfile(src, out / src.name)
        (out / src.name).chmod(0o644)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", "--shared", dest="shared", type=Path, required=True,
                    help="folder with sites/, pv/, citylearn/ (the raw data sets, not in the repository)")
    ap.add_argument("--out", type=Path, default=ROOT / "data")
    args = ap.parse_args(argv)
    topology = json.loads((args.shared / "sites" / "caltech_acn_topology.json").read_text())
    site = build_site(topology)
    (args.out / "site.json").write_text(json.dumps(site, indent=1) + "\n")
    build_profiles(args.shared, args.out / "profiles")
    print(f"wrote {args.out / 'site.json'}: {len(site['cabinets'])} cabinets, {len(site['assets'])} assets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
