"""Python mirror of the storage words the contracts pack by hand (a test helper).

The layouts are defined once, in ``contracts/layout.vy`` (see its docstring for the bit
maps); this module reads the shifts and masks from that file, so that the tests
(hypothesis) check the contracts' packing against an independent implementation of the
same layout, and tools can decode ``hot_word`` / ``status_word`` views.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["layout_constants", "hot_capacity_field", "HotWord", "StatusWord", "pack_hot", "unpack_hot", "pack_status", "unpack_status", "bias32", "unbias32"]

LAYOUT_FILE = Path(__file__).resolve().parents[2] / "contracts" / "layout.vy"


def _constant_value(expr: str) -> int:
    """Value of a constant expression of integers, ``**``, ``<<``, ``-``, ``+`` and ``|``."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {ast.Pow: lambda: a**b, ast.LShift: lambda: a << b, ast.Sub: lambda: a - b,
                   ast.Add: lambda: a + b, ast.BitOr: lambda: a | b}
            if type(node.op) in ops:
                return ops[type(node.op)]()
        raise ValueError(f"unsupported constant expression: {expr!r}")

    return ev(ast.parse(expr, mode="eval").body)


def layout_constants(path: Path = LAYOUT_FILE) -> dict[str, int]:
    """Every ``NAME: constant(...) = expr`` of ``contracts/layout.vy``."""
    pattern = re.compile(r"^([A-Z][A-Z0-9_]*): constant\([a-z0-9]+\) = (.+?)\s*(?:#.*)?$", re.M)
    return {name: _constant_value(expr) for name, expr in pattern.findall(path.read_text())}


_L = layout_constants()
_M8, _M32, _M48, _M64, _M160 = _L["MASK_8"], _L["MASK_32"], _L["MASK_48"], _L["MASK_64"], _L["MASK_160"]
_BIAS = _L["BIAS"]


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
    return (h.operator | h.kind << _L["SHIFT_KIND"] | (1 if h.active else 0) << _L["SHIFT_ACTIVE"]
            | h.rated_power_w << _L["SHIFT_RATED"] | h.capacity_field << _L["SHIFT_HOT_CAPACITY"])


def unpack_hot(word: int) -> HotWord:
    """Decode a hot word."""
    return HotWord(word & _M160, (word >> _L["SHIFT_KIND"]) & _M8, bool((word >> _L["SHIFT_ACTIVE"]) & _M8),
                   (word >> _L["SHIFT_RATED"]) & _M32, (word >> _L["SHIFT_HOT_CAPACITY"]) & _M48)


def hot_capacity_field(capacity_wh: int) -> int:
    """What the hot word holds for a battery of ``capacity_wh`` [Wh]."""
    return min(capacity_wh, _M48)


def pack_status(s: StatusWord) -> int:
    """The uint256 status word of ``s``."""
    if not (0 <= s.status <= _M8 and 0 <= s.energy_wh <= _M64 and 0 <= s.timestamp <= _M64):
        raise ValueError(f"field out of range: {s}")
    return (s.status | bias32(s.power_w) << _L["SHIFT_POWER"] | s.energy_wh << _L["SHIFT_ENERGY"]
            | s.timestamp << _L["SHIFT_TIME"])


def unpack_status(word: int) -> StatusWord:
    """Decode a status word."""
    return StatusWord(word & _M8, unbias32(word >> _L["SHIFT_POWER"]), (word >> _L["SHIFT_ENERGY"]) & _M64,
                      (word >> _L["SHIFT_TIME"]) & _M64)
