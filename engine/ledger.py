"""The engine's seam to the on-chain ledger.

The engine never imports web3. It talks to the registry (SC1) and the status board
(SC2) only through the small :class:`LedgerPort` protocol below, the way acnportal's
algorithms see the simulator only through an interface. ``contracts.ledger.Ledger``
implements it over web3; tests may pass any object with these methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, Sequence, runtime_checkable

from engine.site import Asset, Cabinet

__all__ = ["Status", "StatusReport", "TxReceipt", "LedgerPort", "LedgerError"]


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
