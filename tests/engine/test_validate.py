"""engine.validate: the one set of field validators (numbers, integers, text, id lookup)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from engine.errors import FieldError
from engine.validate import (
    by_id,
    choice,
    describe,
    finite,
    integer,
    is_number,
    number,
    replace_by_id,
    text,
)


class MyError(FieldError):
    pass


@pytest.mark.parametrize(
    "value,kwargs,message",
    [
        ("12", {}, "must be a number, got str '12'"),
        (True, {}, "must be a number, got bool True"),
        (None, {}, "must be a number, got NoneType None"),
        (math.nan, {}, "must be a finite number, got nan"),
        (-math.inf, {}, "must be a finite number, got -inf"),
        (10**400, {}, "must be a finite number, got an integer of about 401 digits"),
        (10**5000, {"hi": 10}, "must be <= 10, got an integer of about 5001 digits"),
        (-(10**400), {"lo": 0}, "must be >= 0, got an integer of about 401 digits"),
        (0, {"lo": 0, "lo_open": True}, "must be > 0, got 0"),
        (1e300, {"lo": 0, "hi": 1440}, "must be <= 1440, got 1e+300"),
        (5, {"hi": 5, "hi_open": True}, "must be < 5, got 5"),
        (1.2, {"lo": 0, "lo_open": True, "hi": 1, "interval": True}, "must be in (0, 1], got 1.2"),
        (-91, {"lo": -90, "hi": 90, "interval": True}, "must be in [-90, 90], got -91"),
    ],
    ids=lambda v: describe(v)[:30],
)
def test_number_refuses_naming_the_field(value, kwargs, message) -> None:
    with pytest.raises(MyError) as err:
        number(value, "x.y", error=MyError, **kwargs)
    assert str(err.value) == f"x.y: {message}"
    assert err.value.field == "x.y"


def test_number_accepts() -> None:
    assert number(7, "f", lo=0, lo_open=True) == 7.0 and isinstance(number(7, "f"), float)
    assert number(np.float32(2.5), "f") == 2.5 and number(np.int64(3), "f", hi=3) == 3.0
    assert number(2**70, "f") == float(2**70)
    assert finite(-1e308, "f") == -1e308
    assert is_number(np.int8(1)) and not is_number(np.bool_(True)) and not is_number("1")


@pytest.mark.parametrize(
    "value,kwargs,message",
    [
        (1.5, {}, "must be an integer, got 1.5"),
        (3.0, {"strict": True}, "must be an integer, got float 3.0"),
        (True, {}, "must be an integer, got bool True"),
        (math.inf, {}, "must be an integer, got inf"),
        (0, {"lo": 1}, "must be >= 1, got 0"),
        (2**70, {"hi": 10**9}, "must be <= 1000000000, got 1180591620717411303424"),
        (1e300, {"hi": 10**9}, "must be <= 1000000000, got 1e+300"),
    ],
)
def test_integer(value, kwargs, message) -> None:
    with pytest.raises(FieldError, match=f"^n: {message.replace('(', '[(]').replace('+', '[+]')}$"):
        integer(value, "n", **kwargs)


def test_integer_accepts_integral_floats() -> None:
    assert integer(3.0, "n") == 3 and isinstance(integer(3.0, "n"), int)
    assert integer(np.int32(-4), "n", lo=-5) == -4


def test_text() -> None:
    assert text(" a ", "t") == " a " and text(" a ", "t", strip=True) == "a"
    for value, message in [(7, "must be a string, got int 7"), ("  ", "must not be empty"), ("é" * 40, "must be at most 64 bytes")]:
        with pytest.raises(FieldError, match=f"^t: {message}$"):
            text(value, "t", max_bytes=64)


def test_by_id() -> None:
    @dataclass
    class Thing:
        id: str

    things = [Thing("a"), Thing("b")]
    assert by_id(things, "b") is things[1]
    with pytest.raises(KeyError):
        by_id(things, "c")
    new_b, c = Thing("b"), Thing("c")
    assert replace_by_id(things, new_b) == (things[0], new_b) and replace_by_id(things, new_b)[1] is new_b
    assert replace_by_id(things, c) == (things[0], things[1], c)


def test_describe_keeps_messages_short() -> None:
    assert describe("x" * 100) == "str"
    assert describe([1]) == "list [1]"


def test_choice_names_the_field_and_the_options():
    assert choice("edf", "--algorithm", ("edf", "llf")) == "edf"
    for bad in ("fifo", None, 3):
        with pytest.raises(MyError, match=r"^--algorithm: must be one of edf, llf, got "):
            choice(bad, "--algorithm", ("edf", "llf"), error=MyError)
