"""SC1 asset registry + SC2 status board (Vyper 0.4.3) and their Python ledger client.

Files
-----
asset_registry.vy, status_board.vy
    The two contracts (ABI: /work/shared/spec/contracts.md, mirrored in docs/chain.md).
ledger.py
    :class:`contracts.ledger.Ledger`, the engine's ``LedgerPort`` over web3:
    ``Ledger.connect()`` picks the embedded chain or a JSON-RPC node from
    ``CHAIN_RPC_URL``.
chain.py
    Connection, signing, nonces, retries, revert mapping (:class:`ContractRevert`).
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
        from contracts import ledger

        return getattr(ledger, name)
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")
