"""Print gasUsed of the contracts' hot paths beside the spec's budgets.

    python bench/gas_report.py                 # embedded chain (eth-tester, py-evm)
    python bench/gas_report.py --anvil         # a throwaway anvil node from node_modules
    python bench/gas_report.py --rpc http://127.0.0.1:8545   # any node (fresh deployment)

Figures are receipt gasUsed of whole transactions on the default EVM version (prague).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts.gas import measure_gas  # noqa: E402
from contracts.ledger import Ledger  # noqa: E402

ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


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
