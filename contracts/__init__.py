"""SC1 asset registry + SC2 status board (Vyper 0.4.3) and their Python ledger client.

Files
-----
asset_registry.vy, status_board.vy, layout.vy, interfaces/IAssetRegistry.vyi
    The two contracts, the packed-word layout they share and SC1's interface (which SC1
    implements and SC2 calls; its docstrings are the ABI reference). Overview: docs/chain.md.
ledger.py, ledger_writes.py, ledger_reads.py, ledger_sync.py
    :class:`contracts.ledger.Ledger`, the engine's ``LedgerPort`` over web3:
    ``Ledger.connect()`` picks the embedded chain or a JSON-RPC node from
    ``CHAIN_RPC_URL`` and deploys (ledger.py); writes, reads and the site sync are mixed in.
chain.py, calls.py, transactions.py, signer.py
    Connection and bounded node calls; errors and budgets; signing and settling writes
    (at most one send per intent); one nonce book per key and one writing process per key.
embedded.py
    The embedded chain (eth-tester), journaled and snapshotted under ``EV_STATE_DIR``.
compile.py, deployments.py, state.py
    Cached compilation, recorded deployments, atomic state files under ``EV_STATE_DIR``.
units.py, records.py
    Unit conversions and ids at the edge; decoded records.

Importing this package is cheap; ``contracts.ledger`` pulls in web3.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Ledger", "ContractRevert", "ChainUnavailable", "LedgerInputError", "asset_key"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from contracts import ledger  # on first use only: it loads web3 (see the docstring)

        return getattr(ledger, name)
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")
