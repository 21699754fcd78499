"""Print gasUsed of the contracts' hot paths beside the budgets of docs/contracts.md.

    python bench/gas_report.py                 # embedded chain (eth-tester, py-evm)
    python bench/gas_report.py --anvil         # a throwaway anvil node from node_modules
    python bench/gas_report.py --rpc http://127.0.0.1:8545   # any node (fresh deployment)

Figures are receipt gasUsed of whole transactions on the default EVM version (prague).
:func:`measure_gas` registers a site of 64 charge points and one of each other kind on a
fresh deployment, posts statuses and returns the receipts' ``gasUsed`` beside the budgets of
docs/contracts.md (*Gas budgets*); ``tests/contracts/test_gas.py`` asserts the budgets with it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts.ledger import Ledger  # noqa: E402
from engine.ledger import Status, StatusReport  # noqa: E402
from engine.site.model import Site, site_from_dict  # noqa: E402

__all__ = ["BUDGETS", "GasFigure", "gas_site", "measure_gas", "two_cabinet_site"]

ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


#: Budgets of docs/contracts.md [gas, whole transaction].
BUDGETS = {
    "register_asset": 150_000,
    "update_status": 40_000,
    "update_batch_per_asset": 15_000,
}


@dataclass(frozen=True)
class GasFigure:
    """One measured figure.

    Parameters
    ----------
    name : str
        What was measured, e.g. ``"update_batch_per_asset"``.
    gas : float
        Receipt gasUsed [gas] (per asset for the per-asset figure).
    budget : int or None
        The budget of docs/contracts.md [gas], None where it sets none.
    note : str
        How it was measured.
    """

    name: str
    gas: float
    budget: int | None
    note: str

    @property
    def ok(self) -> bool:
        """Within budget (always True without one)."""
        return self.budget is None or self.gas <= self.budget


def two_cabinet_site(
    name: str,
    cabinets: dict[str, float],
    cp_ids: Sequence[str],
    *,
    cp_rated_kw: float,
    price_per_kwh: float,
    others: dict[str, tuple[str, float, float]],
    first_index: int = 0,
    cp_lon_step: float = 0.0,
) -> Site:
    """A site of two cabinets: charge points on the first, a PV inverter, a battery and a load on the second.

    Parameters
    ----------
    name : str
    cabinets : dict
        The two cabinets' ids -> threshold [kW], the charge points' cabinet first.
    cp_ids : sequence of str
        The charge points' ids; the k-th is placed ``(first_index + k) * 1e-5`` degrees north
        (and ``cp_lon_step`` times that index east) of the first cabinet.
    cp_rated_kw, price_per_kwh : float
        Every charge point's rating [kW] and price [currency/kWh].
    others : dict
        The second cabinet's three assets in order PV, battery, load: id -> (kind, rated_kw [kW],
        capacity_kwh [kWh], 0 but for a battery).
    """
    (cab_cp, cab_mix) = cabinets
    assets = [
        {"id": cp, "kind": "charge_point", "cabinet": cab_cp, "lat": 34.137 + i * 1e-5,
         "lon": -118.125 + i * cp_lon_step, "rated_kw": cp_rated_kw, "price_per_kwh": price_per_kwh}
        for i, cp in enumerate(cp_ids, start=first_index)
    ]
    for (aid, (kind, rated_kw, capacity_kwh)), (lat, lon) in zip(others.items(), _OTHER_SPOTS):
        assets.append({"id": aid, "kind": kind, "cabinet": cab_mix, "lat": lat, "lon": lon, "rated_kw": rated_kw,
                       **({"capacity_kwh": capacity_kwh} if kind == "battery" else {})})
    return site_from_dict({
        "name": name,
        "cabinets": [
            {"id": cab_cp, "lat": 34.137, "lon": -118.125, "threshold_kw": cabinets[cab_cp]},
            {"id": cab_mix, "lat": 34.1375, "lon": -118.1255, "threshold_kw": cabinets[cab_mix]},
        ],
        "assets": assets,
    })


_OTHER_SPOTS = ((34.1371, -118.1251), (34.1372, -118.1252), (34.1373, -118.1253))


def gas_site(n_cp: int = 64) -> Site:
    """A two-cabinet site: ``n_cp`` charge points on G-CP; PV, battery and a load on G-MIX."""
    return two_cabinet_site(
        "Gas site",
        {"G-CP": 400, "G-MIX": 150},
        [f"GCP-{i:03d}" for i in range(n_cp)],
        cp_rated_kw=22,
        price_per_kwh=0.375,
        others={"G-PV": ("pv_inverter", 50, 0), "G-BAT": ("battery", 100, 200), "G-LOAD": ("other_load", 9, 0)},
        cp_lon_step=-1e-5,
    )


def measure_gas(ledger, progress=None) -> list[GasFigure]:
    """Measure gasUsed of the hot paths on a fresh deployment behind ``ledger``.

    Parameters
    ----------
    ledger : contracts.ledger.Ledger
        Connected client whose contracts hold nothing yet.
    progress : callable, optional
        ``progress(done, total)`` while the site is registered.

    Returns
    -------
    list of GasFigure
        register_cabinet, register_asset (max over kinds), update_status on an asset
        that already has a status (max of a charge point and a discharging battery),
        first update_batch of 64 (fresh statuses), and update_batch of 64 that
        already have a status: total and per asset.
    """
    site = gas_site(64)
    receipts = ledger.sync_site(site, progress=progress)
    cps = [a.id for a in site.charge_points]
    reg_asset = max(receipts[a.id].gas_used for a in site.assets)
    reg_cab = max(receipts[c.id].gas_used for c in site.cabinets)

    ledger.post_status(StatusReport("G-BAT", Status.CHARGING, 40.0, 120.0))
    ledger.post_status(StatusReport(cps[0], Status.PREPARING, 0.0, 0.0))
    single = max(
        ledger.post_status(StatusReport("G-BAT", Status.CHARGING, -87.654, 123.456)).gas_used,
        ledger.post_status(StatusReport(cps[0], Status.CHARGING, 21.987, 45.678)).gas_used,
    )
    first = ledger.post_statuses([StatusReport(a, Status.CHARGING, 7.4, 1.0) for a in cps])[0].gas_used
    again = ledger.post_statuses(
        [StatusReport(a, Status.CHARGING, 11.0 + i / 7, 12.345 + i) for i, a in enumerate(cps)]
    )[0].gas_used
    return [
        GasFigure("register_cabinet", reg_cab, None, "max over 2 cabinets"),
        GasFigure("register_asset", reg_asset, BUDGETS["register_asset"], "max over 67 assets of all kinds"),
        GasFigure("update_status", single, BUDGETS["update_status"],
                  "existing status; max of a charge point and a discharging battery"),
        GasFigure("update_batch_64_first", first, None, "64 charge points without a status yet (total)"),
        GasFigure("update_batch_64_first_per_asset", first / 64, None, "the same, per asset"),
        GasFigure("update_batch_64", again, None, "64 charge points that already have a status (total)"),
        GasFigure("update_batch_per_asset", again / 64, BUDGETS["update_batch_per_asset"], "the same, per asset"),
    ]



def _report(ledger: Ledger, label: str) -> bool:
    t0 = time.perf_counter()
    figures = measure_gas(ledger, progress=lambda d, n: print(f"\r  registering {d}/{n}", end="", file=sys.stderr))
    print(file=sys.stderr)
    print(f"gas report on {label} (chain id {ledger.chain_id}), {time.perf_counter() - t0:.1f} s")
    print(f"{'call':34s} {'gasUsed':>12s} {'budget':>10s}  ok   note")
    for f in figures:
        budget = f"{f.budget:,}" if f.budget is not None else "-"
        print(f"{f.name:34s} {f.gas:>12,.0f} {budget:>10s}  {'yes' if f.ok else 'NO ':3s}  {f.note}")
    return all(f.ok for f in figures)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anvil", action="store_true", help="start a throwaway anvil node and measure there too")
    ap.add_argument("--rpc", default="", help="JSON-RPC URL to measure on (deploys fresh contracts)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = _report(Ledger.connect("", state_dir=tmp), "embedded eth-tester")
        if args.rpc:
            ok &= _report(Ledger.connect(args.rpc, state_dir=tmp), args.rpc)
        if args.anvil:
            port = 18000 + (int(time.time()) % 1000)
            proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"])
            try:
                url = f"http://127.0.0.1:{port}"
                for _ in range(100):
                    try:
                        ledger = Ledger.connect(url, state_dir=tmp, retries=0)
                        break
                    except Exception:  # noqa: BLE001 - node still starting
                        time.sleep(0.1)
                else:
                    raise SystemExit(f"anvil did not start on {url}")
                ok &= _report(ledger, f"anvil {url}")
            finally:
                proc.terminate()
                proc.wait()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
