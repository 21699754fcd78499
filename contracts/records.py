"""Decoded, unit-converted records read back from the two contracts."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.ledger import Status
from engine.site.model import AssetKind

__all__ = ["AssetRecord", "CabinetRecord", "StatusEvent", "Registration"]


@dataclass(frozen=True)
class Registration:
    """Where an asset or cabinet was registered.

    Parameters
    ----------
    key : str
        On-chain id, 0x-hex keccak256 of the human id.
    tx_hash : str
        Hash of the registering transaction (0x-hex).
    block : int
        Block number of that transaction.
    """

    key: str
    tx_hash: str
    block: int

    def __iter__(self):  # (key, tx_hash, block) unpacking
        return iter((self.key, self.tx_hash, self.block))


@dataclass(frozen=True)
class _SC1Record:
    """What every SC1 record has: its ids and where it was registered.

    Parameters
    ----------
    id : str
        Human id (from the registering log; the 0x-hex key if unknown).
    key : str
        On-chain id (0x-hex).
    tx_hash : str, keyword only
        Registering transaction ("" if its log is not available).
    block : int, keyword only
        Block of that transaction (-1 if unknown).
    """

    id: str
    key: str
    tx_hash: str = field(default="", kw_only=True)
    block: int = field(default=-1, kw_only=True)


@dataclass(frozen=True)
class CabinetRecord(_SC1Record):
    """A cabinet as SC1 stores it (``id``, ``key``, ``tx_hash``, ``block``: see :class:`_SC1Record`).

    Parameters
    ----------
    threshold_kw : float
        Power threshold of the group [kW].
    lat, lon : float
        Location [degrees].
    """

    threshold_kw: float
    lat: float
    lon: float


@dataclass(frozen=True)
class AssetRecord(_SC1Record):
    """An asset as SC1 stores it (``id``, ``key``, ``tx_hash``, ``block``: see :class:`_SC1Record`).

    Parameters
    ----------
    kind : AssetKind
    cabinet : str
        Human id of its cabinet (0x-hex key if unknown).
    cabinet_key : str
        On-chain id of its cabinet (0x-hex).
    operator : str
        Account allowed to post its status (checksum address).
    lat, lon : float
        Location [degrees].
    rated_kw : float
        Rated power [kW].
    capacity_kwh : float
        Battery capacity [kWh]; 0 for other kinds.
    price_per_kwh : float
        Charge point price [currency/kWh]; 0 for other kinds.
    active : bool
        False once deactivated.
    """

    kind: AssetKind
    cabinet: str
    cabinet_key: str
    operator: str
    lat: float
    lon: float
    rated_kw: float
    capacity_kwh: float
    price_per_kwh: float
    active: bool


@dataclass(frozen=True)
class StatusEvent:
    """One StatusUpdated log of SC2.

    Parameters
    ----------
    asset_id : str
        Human id (0x-hex key if unknown).
    key : str
        On-chain id (0x-hex).
    status : Status
    power_kw : float
        Power [kW] (battery: + charging, - discharging).
    energy_kwh : float
        Energy [kWh] (meaning per kind: docs/contracts.md).
    timestamp : int
        Block timestamp [s since epoch].
    block : int
    tx_hash : str
    log_index : int
    """

    asset_id: str
    key: str
    status: Status
    power_kw: float
    energy_kwh: float
    timestamp: int
    block: int
    tx_hash: str
    log_index: int
