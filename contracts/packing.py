"""Python mirror of the storage words the contracts pack by hand.

The contracts are the source of truth; these functions document the layouts and let
tests (hypothesis) check the contracts' packing against an independent
implementation, and let tools decode ``hot_word`` / ``status_word`` views.

SC1 hot word (one slot per asset, all SC2 needs)::

    bits   0..159  operator address
    bits 160..167  kind (1..4)
    bits 168..175  active flag
    bits 176..207  rated power [W]
    bits 208..255  battery capacity [Wh] if below 2**48 - 1, else 2**48 - 1 (see cold word)

SC1 cold word::

    bits   0..31   latitude  [micro-degrees] + 2**31
    bits  32..63   longitude [micro-degrees] + 2**31
    bits  64..95   price [thousandths per kWh]
    bits  96..159  capacity [Wh]
    bits 160..191  cabinet index

SC2 status word::

    bits   0..7    status (0..8)
    bits   8..39   power [W] + 2**31
    bits  40..103  energy [Wh]
    bits 104..167  block timestamp [s]
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["hot_capacity_field", "HotWord", "StatusWord", "pack_hot", "unpack_hot", "pack_status", "unpack_status", "bias32", "unbias32"]

_M8 = (1 << 8) - 1
_M32 = (1 << 32) - 1
_M48 = (1 << 48) - 1
_M64 = (1 << 64) - 1
_M160 = (1 << 160) - 1
_BIAS = 1 << 31


@dataclass(frozen=True)
class HotWord:
    """The decoded hot word of an asset.

    Parameters
    ----------
    operator : int
        Operator address as an integer (160 bits).
    kind : int
        1 charge point, 2 PV inverter, 3 battery, 4 other load.
    active : bool
    rated_power_w : int
        Rated power [W].
    capacity_field : int
        Battery capacity [Wh] capped at ``2**48 - 1`` (the cap means: read the cold
        word); 0 for other kinds.
    """

    operator: int
    kind: int
    active: bool
    rated_power_w: int
    capacity_field: int = 0


@dataclass(frozen=True)
class StatusWord:
    """The decoded status word of an asset.

    Parameters
    ----------
    status : int
        OCPP 1.6 status 0..8.
    power_w : int
        Power [W], signed 32-bit.
    energy_wh : int
        Energy [Wh], 64-bit.
    timestamp : int
        Block timestamp [s], 64-bit.
    """

    status: int
    power_w: int
    energy_wh: int
    timestamp: int


def bias32(x: int) -> int:
    """A signed 32-bit integer as the unsigned ``x + 2**31``."""
    if not -_BIAS <= x < _BIAS:
        raise ValueError(f"not a signed 32-bit integer: {x}")
    return x + _BIAS


def unbias32(u: int) -> int:
    """Inverse of :func:`bias32`."""
    return (u & _M32) - _BIAS


def pack_hot(h: HotWord) -> int:
    """The uint256 hot word of ``h``."""
    if not (0 <= h.operator <= _M160 and 0 <= h.kind <= _M8 and 0 <= h.rated_power_w <= _M32
            and 0 <= h.capacity_field <= _M48):
        raise ValueError(f"field out of range: {h}")
    return (h.operator | h.kind << 160 | (1 if h.active else 0) << 168 | h.rated_power_w << 176
            | h.capacity_field << 208)


def unpack_hot(word: int) -> HotWord:
    """Decode a hot word."""
    return HotWord(word & _M160, (word >> 160) & _M8, bool((word >> 168) & _M8), (word >> 176) & _M32,
                   (word >> 208) & _M48)


def hot_capacity_field(capacity_wh: int) -> int:
    """What the hot word holds for a battery of ``capacity_wh`` [Wh]."""
    return min(capacity_wh, _M48)


def pack_status(s: StatusWord) -> int:
    """The uint256 status word of ``s``."""
    if not (0 <= s.status <= _M8 and 0 <= s.energy_wh <= _M64 and 0 <= s.timestamp <= _M64):
        raise ValueError(f"field out of range: {s}")
    return s.status | bias32(s.power_w) << 8 | s.energy_wh << 40 | s.timestamp << 104


def unpack_status(word: int) -> StatusWord:
    """Decode a status word."""
    return StatusWord(word & _M8, unbias32(word >> 8), (word >> 40) & _M64, (word >> 104) & _M64)
