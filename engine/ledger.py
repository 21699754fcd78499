"""The engine's seam to the on-chain ledger.

The engine never imports web3. It talks to the registry (SC1) and the status board
(SC2) only through the small :class:`LedgerPort` protocol below, the way acnportal's
algorithms see the simulator only through an interface. ``contracts.ledger.Ledger``
implements it over web3; tests may pass any object with these methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, Sequence, runtime_checkable

from engine.registry import load_by_name
from engine.site.model import Asset, Cabinet

__all__ = ["Status", "StatusReport", "TxReceipt", "SignedWrite", "Settlement", "LedgerPort", "LedgerError", "connect_ledger"]


class Status(IntEnum):
    """OCPP 1.6 charge point statuses, numbered as on chain (SC2 ``status``)."""

    AVAILABLE = 0
    PREPARING = 1
    CHARGING = 2
    SUSPENDED_EVSE = 3
    SUSPENDED_EV = 4
    FINISHING = 5
    RESERVED = 6
    UNAVAILABLE = 7
    FAULTED = 8


@dataclass(frozen=True)
class StatusReport:
    """One asset's live status.

    Parameters
    ----------
    asset_id : str
        Human id of the asset, e.g. ``"CA-301"``.
    status : Status
    power_kw : float
        Power now [kW]; for a battery + charging, - discharging.
    energy_kwh : float
        Charge point: energy delivered in the current session [kWh]; PV: produced
        today [kWh]; battery: energy available [kWh]; load: 0.
    updated_at : int
        Block timestamp of the update [s since epoch]; 0 when not yet on chain.
    """

    asset_id: str
    status: Status
    power_kw: float
    energy_kwh: float
    updated_at: int = 0


@dataclass(frozen=True)
class TxReceipt:
    """What a write to the ledger returned: transaction hash, block and gas used."""

    tx_hash: str
    block_number: int
    gas_used: int


@dataclass(frozen=True)
class SignedWrite:
    """A transaction signed locally and not yet known to be mined.

    Its hash is known before it is sent, so a caller that lost the reply (or crashed) can
    ask :meth:`LedgerPort.settle` what became of it instead of building a new one: a write is
    sent at most once per intent. Persist it before the first broadcast.

    Parameters
    ----------
    tx_hash : str
        ``0x``-prefixed transaction hash.
    raw_tx : str
        ``0x``-prefixed signed raw transaction (re-broadcast as is: same hash).
    nonce : int
    account : str
        The signer's address.
    action : str
        What it does, e.g. ``"update_batch"`` (for messages).
    """

    tx_hash: str
    raw_tx: str
    nonce: int
    account: str
    action: str = ""


@dataclass(frozen=True)
class Settlement:
    """What became of a :class:`SignedWrite`.

    Parameters
    ----------
    state : {"mined", "pending", "dropped", "reverted"}
        ``mined``: in a block, ``receipt`` set. ``pending``: sent (or re-broadcast now) and
        not yet mined: ask again later. ``dropped``: its nonce was used by another transaction
        and it never will be mined: sign the intent again. ``reverted``: mined and reverted
        (``reason`` says why): do not send it again.
    receipt : TxReceipt or None
    reason : str or None
    """

    state: str
    receipt: "TxReceipt | None" = None
    reason: str | None = None


class LedgerError(RuntimeError):
    """A ledger write or read failed; ``reason`` is the contract's revert reason if any."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@runtime_checkable
class LedgerPort(Protocol):
    """What the engine and the pages need from the ledger (SC1 + SC2)."""

    def register_cabinet(self, cabinet: Cabinet) -> TxReceipt: ...

    def set_threshold(self, cabinet_id: str, threshold_kw: float) -> TxReceipt: ...

    def register_asset(self, asset: Asset) -> TxReceipt: ...

    def move_asset(self, asset: Asset) -> TxReceipt:
        """Record an asset's new cabinet and/or location (asset as it is now)."""
        ...

    def post_statuses(self, reports: Sequence[StatusReport]) -> list[TxReceipt]: ...

    def get_status(self, asset_id: str) -> StatusReport | None: ...

    # -- exactly-once status posting (the runtime's outbox) -------------------------------
    def sign_statuses(self, reports: Sequence[StatusReport]) -> SignedWrite:
        """Sign one SC2 ``update_batch`` of at most 64 reports without sending it.

        Raises ``LedgerError`` (e.g. ``ChainUnavailable``) when the node cannot be asked
        for what signing needs (nonce, gas price); nothing is then consumed.
        """
        ...

    def settle(self, write: SignedWrite) -> Settlement:
        """Send ``write`` if the node does not know it (same raw bytes, same hash) and say
        what became of it; bounded in time (a few seconds). Raises ``LedgerError`` when the
        node does not answer."""
        ...

    def head(self) -> int:
        """The node's latest block number (a drop below a receipt's block means a rollback)."""
        ...


#: How the engine reaches the chain without importing web3: ``contracts.ledger.Ledger.connect``
#: loaded by name (the engine's ledger port, :class:`engine.ledger.LedgerPort`, is what it gets).
LEDGER_FACTORY = "contracts.ledger:Ledger.connect"


def connect_ledger(**kwargs: Any) -> Any:
    """Connect the chain's ledger client (``contracts.ledger.Ledger.connect(**kwargs)``).

    Loaded by name so that ``engine`` never imports web3; raises whatever the client raises
    (``engine.ledger.LedgerError`` when the chain cannot be reached).
    """
    return load_by_name(LEDGER_FACTORY)(**kwargs)
