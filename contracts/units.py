"""Ids and unit conversions at the edge between the engine and the contracts.

The engine speaks kW, kWh, degrees and currency/kWh in floats; the contracts store
W, Wh, micro-degrees and thousandths of a currency unit per kWh in integers. Every
conversion checks its value with :mod:`engine.validate` and its range, and raises
:class:`LedgerInputError` naming the field.
"""

from __future__ import annotations

from eth_utils import keccak

from engine.ledger import LedgerError
from engine.validate import finite, text

__all__ = [
    "LedgerInputError",
    "asset_key",
    "cabinet_key",
    "key_hex",
    "kw_to_w",
    "w_to_kw",
    "power_kw_to_w",
    "kwh_to_wh",
    "wh_to_kwh",
    "deg_to_e6",
    "e6_to_deg",
    "price_to_milli",
    "milli_to_price",
    "UINT32_MAX",
    "INT32_MAX",
    "UINT64_MAX",
]

UINT32_MAX = 2**32 - 1
INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1


class LedgerInputError(LedgerError, ValueError):
    """A value cannot go on chain; the message starts with the offending field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def asset_key(human_id: str) -> bytes:
    """On-chain id of an asset or cabinet: keccak256 of its human id (32 bytes).

    Examples
    --------
    >>> asset_key("CA-301").hex()[:8]  # doctest: +SKIP
    """
    return keccak(text=text(human_id, "id", error=LedgerInputError))


cabinet_key = asset_key


def key_hex(key: bytes) -> str:
    """A 32-byte id as 0x-hex."""
    return "0x" + bytes(key).hex()


def _scaled(value: float, field_name: str, lo: int, hi: int, within: str) -> int:
    """``value * 1000`` rounded to an integer in ``[lo, hi]``; else the error says ``within``."""
    n = round(finite(value, field_name, error=LedgerInputError) * 1000.0)
    if not lo <= n <= hi:
        raise LedgerInputError(field_name, f"must be {within}, got {value!r}")
    return int(n)


def kw_to_w(kw: float, field_name: str = "power_kw") -> int:
    """Non-negative power [kW] -> integer W fitting a uint32."""
    return _scaled(kw, field_name, 0, UINT32_MAX, f"within [0, {UINT32_MAX / 1000:g}] kW")


def power_kw_to_w(kw: float, field_name: str = "power_kw") -> int:
    """Signed power [kW] -> integer W fitting an int32."""
    return _scaled(kw, field_name, -INT32_MAX, INT32_MAX, f"within +-{INT32_MAX / 1000:g} kW")


def w_to_kw(w: int) -> float:
    """W -> kW."""
    return int(w) / 1000.0


def kwh_to_wh(kwh: float, field_name: str = "energy_kwh") -> int:
    """Non-negative energy [kWh] -> integer Wh fitting a uint64."""
    return _scaled(kwh, field_name, 0, UINT64_MAX, ">= 0 kWh")


def wh_to_kwh(wh: int) -> float:
    """Wh -> kWh."""
    return int(wh) / 1000.0


def deg_to_e6(deg: float, field_name: str, limit: float) -> int:
    """Degrees -> integer micro-degrees, |deg| <= ``limit`` (90 for lat, 180 for lon)."""
    x = finite(deg, field_name, error=LedgerInputError)
    if abs(x) > limit:
        raise LedgerInputError(field_name, f"must be within [-{limit:g}, {limit:g}] degrees, got {x:g}")
    return int(round(x * 1_000_000))


def e6_to_deg(e6: int) -> float:
    """Micro-degrees -> degrees."""
    return int(e6) / 1_000_000


def price_to_milli(price: float, field_name: str = "price_per_kwh") -> int:
    """Price [currency/kWh] -> integer thousandths per kWh fitting a uint32."""
    return _scaled(price, field_name, 0, UINT32_MAX, f"within [0, {UINT32_MAX / 1000:g}] per kWh")


def milli_to_price(milli: int) -> float:
    """Thousandths per kWh -> currency/kWh."""
    return int(milli) / 1000.0
