"""The split of a plan's load among its cars (engine.optimize.tiebreak)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.optimize.tiebreak import deadline_split


def _two_cars():
    # 10 kW at each of 4 steps; car 0 (deadline 3) takes one step's worth, car 1 (deadline 4) three
    power = np.array([[10.0, 0.0, 0.0, 0.0], [0.0, 10.0, 10.0, 10.0]])
    return power, np.array([3, 4]), np.array([10.0, 10.0])


def test_earliest_deadline_first_by_default():
    power, deadline, max_kw = _two_cars()
    power = power[:, [1, 0, 2, 3]]  # car 0 late in its window
    out = deadline_split(power, deadline, max_kw)
    np.testing.assert_allclose(out[0], [10.0, 0.0, 0.0, 0.0], atol=1e-6)


def test_a_promise_goes_first_even_with_a_later_deadline():
    power, deadline, max_kw = _two_cars()
    out = deadline_split(power, deadline, max_kw, weight=np.array([1.0, 1.5]))
    np.testing.assert_allclose(out[1, 0], 10.0, atol=1e-6)  # car 1 starts at once
    assert out[0, 3] == 0.0 and abs(out[0].sum() - 10.0) < 1e-6  # car 0 still within its deadline
    np.testing.assert_allclose(out.sum(axis=0), power.sum(axis=0), atol=1e-6)


def test_a_promise_does_not_pass_a_much_earlier_deadline():
    # best effort due at step 2, the promise at step 8 (4 times later): the best effort goes first
    # (a lexicographic order would starve it: energy lost, docs/promises.md)
    power = np.zeros((2, 8))
    power[0, 1] = 10.0
    power[1, [0, 2, 3]] = 10.0
    out = deadline_split(power, np.array([2, 8]), np.array([10.0, 10.0]), weight=np.array([1.0, 1.5]))
    np.testing.assert_allclose(out[0, :2], [10.0, 0.0], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_the_split_keeps_load_totals_limits_and_windows(k, H, seed):
    rng = np.random.default_rng(seed)
    deadline = rng.integers(1, H + 1, size=k)
    max_kw = rng.uniform(3.0, 11.0, size=k)
    power = np.zeros((k, H))
    for s in range(k):
        power[s, : deadline[s]] = rng.uniform(0.0, max_kw[s], size=deadline[s]) * (rng.random(deadline[s]) < 0.7)
    weight = np.where(rng.random(k) < 0.5, 1.5, 1.0)
    for w in (None, weight):
        out = deadline_split(power, deadline, max_kw, weight=w)
        assert out is not None
        np.testing.assert_allclose(out.sum(axis=0), power.sum(axis=0), atol=1e-5)
        np.testing.assert_allclose(out.sum(axis=1), power.sum(axis=1), atol=1e-5)
        assert np.all(out <= max_kw[:, None] + 1e-6) and np.all(out >= -1e-9)
        for s in range(k):
            assert np.all(out[s, deadline[s]:] <= 1e-9)
