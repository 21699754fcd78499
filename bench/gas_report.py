"""Print gasUsed of the contracts' hot paths beside the spec's budgets.

    python bench/gas_report.py                 # embedded chain (eth-tester, py-evm)
    python bench/gas_report.py --anvil         # a throwaway anvil node from node_modules
    python bench/gas_report.py --rpc http://127.0.0.1:8545   # any node (fresh deployment)

Figures are receipt gasUsed of whole transactions on the default EVM version (prague).
:func:`measure_gas` registers a site of 64 charge points and one of each other kind on a
fresh deployment, posts statuses and returns the receipts' ``gasUsed`` beside the budgets of
the contract spec; ``tests/contracts/test_gas.py`` asserts the budgets with it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts.ledger import Ledger  # noqa: E402
from engine.ledger import Status, StatusReport  # noqa: E402
from engine.site.model import Site, site_from_dict  # noqa: E402

__all__ = ["BUDGETS", "GasFigure", "gas_site", "measure_gas"]

ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


#: Budgets of the contract spec [gas, whole transaction].
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
        The spec's budget [gas], None where it sets none.
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


def gas_site(n_cp: int = 64) -> Site:
    """A two-cabinet site: ``n_cp`` charge points on G-CP; PV, battery and a load on G-MIX."""
    assets = [
        {"id": f"GCP-{i:03d}", "kind": "charge_point", "cabinet": "G-CP", "lat": 34.137 + i * 1e-5,
         "lon": -118.125 - i * 1e-5, "rated_kw": 22, "price_per_kwh": 0.375}
        for i in range(n_cp)
    ] + [
        {"id": "G-PV", "kind": "pv_inverter", "cabinet": "G-MIX", "lat": 34.1371, "lon": -118.1251, "rated_kw": 50},
        {"id": "G-BAT", "kind": "battery", "cabinet": "G-MIX", "lat": 34.1372, "lon": -118.1252, "rated_kw": 100,
         "capacity_kwh": 200},
        {"id": "G-LOAD", "kind": "other_load", "cabinet": "G-MIX", "lat": 34.1373, "lon": -118.1253, "rated_kw": 9},
    ]
    return site_from_dict({
        "name": "Gas site",
        "cabinets": [
            {"id": "G-CP", "lat": 34.137, "lon": -118.125, "threshold_kw": 400},
            {"id": "G-MIX", "lat": 34.1375, "lon": -118.1255, "threshold_kw": 150},
        ],
        "assets": assets,
    })


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
