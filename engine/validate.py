"""One set of input validators for the whole code base: numbers, integers, text, id lookups.

Every reader at an edge (scenario JSON, site file, kiosk form, chain units) checks its values
with these functions, so a value is judged the same way everywhere and every error names the
field first (``"<field>: <message>"``). Each function takes the error class to raise (a
subclass of :class:`engine.errors.FieldError` or any class built as ``cls(field, message)``),
so each module keeps its own error type (``ScenarioError``, ``SiteError``, ...).

Rules shared by all readers:

* a number is an ``int`` or ``float`` (numpy scalars too), never a ``bool``;
* it must be finite: NaN, infinities and integers too large for a float (``10**400``) are refused
  without an ``OverflowError``;
* a bound that is broken is the one named: ``must be >= 0, got -1``, ``must be <= 1440, got 1e+300``
  (or, with ``interval=True``, the whole interval: ``must be in (0, 1], got 1.2``);
* an integer may be written as an integral float (``3.0``); ``2**70`` is an integer but a bound
  usually refuses it.

Examples
--------
>>> number(7, "rated_kw", lo=0, lo_open=True)
7.0
>>> integer(3.0, "horizon_steps", lo=1)
3
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from engine.errors import FieldError

__all__ = [
    "ErrorFactory",
    "is_number",
    "number",
    "finite",
    "integer",
    "text",
    "choice",
    "by_id",
    "replace_by_id",
    "describe",
]

ErrorFactory = Callable[[str, str], Exception]
"""Builds the error raised for a bad field: ``error(field, message)``."""

T = TypeVar("T")

_SHOW_MAX = 40


def describe(value: Any) -> str:
    """A short description of a bad value for a message: its type, and its repr when short.

    Examples
    --------
    >>> describe("12")
    "str '12'"
    """
    kind = type(value).__name__
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_SHOW_MAX:
        return _big_int(value)
    try:
        r = repr(value)
    except Exception:  # pragma: no cover - a repr that fails is never shown
        return kind
    return f"{kind} {r}" if len(r) <= _SHOW_MAX else kind


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (numpy scalars included), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _big_int(v: int) -> str:
    """An integer too long to print (``str`` refuses more than 4300 digits)."""
    return f"an integer of about {int(abs(v).bit_length() * math.log10(2)) + 1} digits"


def _fmt(x: float | int) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x) if abs(x) < 10**_SHOW_MAX else _big_int(x)


def _check_bounds(
    x: float | int,
    field: str,
    lo: float | None,
    hi: float | None,
    lo_open: bool,
    hi_open: bool,
    interval: bool,
    error: ErrorFactory,
) -> None:
    below = lo is not None and (x <= lo if lo_open else x < lo)
    above = hi is not None and (x >= hi if hi_open else x > hi)
    if not (below or above):
        return
    shown = _fmt(x)
    if interval and lo is not None and hi is not None:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise error(field, f"must be in {left}{_fmt(lo)}, {_fmt(hi)}{right}, got {shown}")
    if below:
        assert lo is not None
        raise error(field, f"must be {'>' if lo_open else '>='} {_fmt(lo)}, got {shown}")
    assert hi is not None
    raise error(field, f"must be {'<' if hi_open else '<='} {_fmt(hi)}, got {shown}")


def number(
    value: Any,
    field: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    interval: bool = False,
    error: ErrorFactory = FieldError,
) -> float:
    """A finite number within optional bounds, as a float.

    Parameters
    ----------
    value : Any
        The value read from the input.
    field : str
        The field's name or path, first in the error message.
    lo, hi : float, optional
        Lower and upper bound (none by default).
    lo_open, hi_open : bool
        Whether the bound itself is refused (``x > lo`` instead of ``x >= lo``).
    interval : bool
        Name the whole interval in the message instead of the broken bound.
    error : callable
        ``error(field, message)`` builds the exception raised.

    Returns
    -------
    float

    Raises
    ------
    error
        ``"<field>: must be a number, got str '12'"``, ``"<field>: must be a finite number"``,
        ``"<field>: must be >= 0, got -1"``, ...
    """
    if not is_number(value):
        raise error(field, f"must be a number, got {describe(value)}")
    if isinstance(value, (int, np.integer)):
        v = int(value)
        # compare a big integer with the bounds before turning it into a float (10**400 overflows)
        _check_bounds(v, field, lo, hi, lo_open, hi_open, interval, error)
        try:
            return float(v)
        except OverflowError:
            raise error(field, f"must be a finite number, got {describe(v)}") from None
    x = float(value)
    if not math.isfinite(x):
        raise error(field, f"must be a finite number, got {x!r}")
    _check_bounds(x, field, lo, hi, lo_open, hi_open, interval, error)
    return x


def finite(value: Any, field: str, *, error: ErrorFactory = FieldError) -> float:
    """A finite number, any sign (:func:`number` without bounds)."""
    return number(value, field, error=error)


def integer(
    value: Any,
    field: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    strict: bool = False,
    error: ErrorFactory = FieldError,
) -> int:
    """An integer within optional closed bounds ``[lo, hi]``.

    Parameters
    ----------
    value : Any
        An int, or (unless ``strict``) a float with an integral value such as ``3.0``.
    field : str
        The field's name or path.
    lo, hi : int, optional
        Closed bounds.
    strict : bool
        Refuse floats, even integral ones.
    error : callable
        ``error(field, message)`` builds the exception raised.

    Returns
    -------
    int
    """
    if not is_number(value) or (strict and not isinstance(value, (int, np.integer))):
        raise error(field, f"must be an integer, got {describe(value)}")
    if isinstance(value, (int, np.integer)):
        i = int(value)
        _check_bounds(i, field, lo, hi, False, False, False, error)
        return i
    x = float(value)
    if not math.isfinite(x) or x != math.floor(x):
        raise error(field, f"must be an integer, got {x!r}")
    _check_bounds(x, field, lo, hi, False, False, False, error)
    return int(x)


def text(
    value: Any,
    field: str,
    *,
    max_bytes: int | None = None,
    strip: bool = False,
    error: ErrorFactory = FieldError,
) -> str:
    """A non-blank string, at most ``max_bytes`` bytes in UTF-8.

    Parameters
    ----------
    value : Any
    field : str
    max_bytes : int, optional
        Longest accepted UTF-8 encoding [bytes] (SC1 names take 64).
    strip : bool
        Return the text without leading and trailing blanks.
    error : callable

    Returns
    -------
    str
    """
    if not isinstance(value, str):
        raise error(field, f"must be a string, got {describe(value)}")
    if not value.strip():
        raise error(field, "must not be empty")
    out = value.strip() if strip else value
    if max_bytes is not None and len(out.encode("utf-8", "surrogatepass")) > max_bytes:
        raise error(field, f"must be at most {max_bytes} bytes")
    return out


def choice(value: Any, field: str, options: Sequence[str], *, error: ErrorFactory = FieldError) -> str:
    """One of ``options`` (compared exactly).

    Parameters
    ----------
    value : Any
    field : str
    options : sequence of str
        The accepted values, named in the message in this order.
    error : callable

    Returns
    -------
    str

    Raises
    ------
    error
        ``"<field>: must be one of a, b, got str 'c'"``.
    """
    if not isinstance(value, str) or value not in options:
        raise error(field, f"must be one of {', '.join(options)}, got {describe(value)}")
    return value


def by_id(items: Iterable[T], item_id: str) -> T:
    """The first item whose ``id`` is ``item_id``.

    Raises
    ------
    KeyError
        ``item_id`` when no item has it.
    """
    for item in items:
        if getattr(item, "id") == item_id:
            return item
    raise KeyError(item_id)


def replace_by_id(items: Iterable[T], new: T) -> tuple[T, ...]:
    """``items`` with the item of ``new``'s id replaced by ``new``, or ``new`` appended (order kept)."""
    out = list(items)
    new_id = getattr(new, "id")
    for i, item in enumerate(out):
        if getattr(item, "id") == new_id:
            out[i] = new
            break
    else:
        out.append(new)
    return tuple(out)
