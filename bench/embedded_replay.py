"""How long the embedded chain takes to come back after a restart.

Registers the sample site (data/site.json: 7 cabinets, 61 assets), posts charge point
statuses in batches of 8 until the chain holds ``--txs`` transactions, then connects again
as a restarted app would: from the latest snapshot plus the journal's tail, and once more
from the journal alone (every transaction replayed)::

    python bench/embedded_replay.py              # 300 transactions
    python bench/embedded_replay.py --txs 1000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts.embedded import journal_path  # noqa: E402
from contracts.ledger import Ledger  # noqa: E402
from contracts.state import chain_dir  # noqa: E402
from engine.ledger import Status, StatusReport  # noqa: E402
from engine.site.model import AssetKind, load_site  # noqa: E402


def _restart(state: Path) -> tuple[Ledger, float]:
    t0 = time.perf_counter()
    ledger = Ledger.connect("", state_dir=state)
    return ledger, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=300, help="transactions on the chain (default 300)")
    args = ap.parse_args()
    site = load_site(ROOT / "data" / "site.json")
    cps = [a.id for a in site.assets if a.kind == AssetKind.CHARGE_POINT]
    with tempfile.TemporaryDirectory() as tmp:
        state, bare = Path(tmp) / "state", Path(tmp) / "bare"
        t0 = time.perf_counter()
        ledger = Ledger.connect("", state_dir=state)
        ledger.sync_site(site)
        i = 0
        while ledger.head() < args.txs:
            ledger.post_statuses([StatusReport(cps[(i + k) % len(cps)], Status.CHARGING, 3.0, (i + k) / 100) for k in range(8)])
            i += 8
        write_s = time.perf_counter() - t0
        txs = ledger.head()
        before = ledger.get_statuses(cps)
        ledger.close()
        journal = journal_path(chain_dir(state))
        size = journal.stat().st_size
        again, snap_s = _restart(state)
        node = again.chain.node
        assert node.replayed == txs and again.get_statuses(cps) == before
        again.close()
        copy = journal_path(chain_dir(bare))
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(journal, copy)  # the journal alone (and where the contracts are): all replayed
        shutil.copy(journal.with_name("deployments.json"), copy.with_name("deployments.json"))
        full, full_s = _restart(bare)
        assert full.chain.node.from_snapshot == 0 and full.get_statuses(cps) == before
        full.close()
    print(f"chain: {txs} transactions ({txs - 2 - len(site.cabinets) - len(site.assets)} status batches of 8), journal {size / 1e6:.2f} MB")
    print(f"writing them: {write_s:.1f} s ({1000 * write_s / txs:.1f} ms per transaction, journal fsync included)")
    print(f"restart from the snapshot: {snap_s:.2f} s ({node.from_snapshot} from the snapshot, {txs - node.from_snapshot} replayed)")
    print(f"restart from the journal alone: {full_s:.2f} s ({1000 * full_s / txs:.1f} ms per transaction replayed)")


if __name__ == "__main__":
    main()
