"""engine.site.profiles: PV from real data, synthetic loads, resampling, errors naming the field."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.site.profiles import (
    PROFILE_NAMES,
    ProfileError,
    asset_profile_kw,
    per_unit,
    price_per_kwh,
    profile_kw,
)
from engine.site.model import Asset, AssetKind

TZ = ZoneInfo("America/Los_Angeles")
DAY = datetime(2019, 5, 6, tzinfo=TZ)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_shape_and_range(name):
    v = per_unit(name, DAY, 288, 5, seed_key="X")
    assert v.shape == (288,)
    assert np.all(v >= 0) and np.all(v <= 1.0 + 1e-9)


@pytest.mark.parametrize("name", ["pv_citylearn", "pv_serf"])
def test_pv_night_and_noon(name):
    v = per_unit(name, DAY, 24, 60)
    assert v[:4].max() == 0 and v[22:].max() == 0
    assert v[10:15].max() > 0.1


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_resampling_preserves_energy(name):
    fine = per_unit(name, DAY, 288, 5, seed_key="E")
    coarse = per_unit(name, DAY, 24, 60, seed_key="E")
    np.testing.assert_allclose(fine.reshape(24, 12).mean(axis=1), coarse, atol=1e-12)


def test_loads_follow_their_shape():
    light = per_unit("lighting", DAY, 24, 60)
    vent = per_unit("ventilation", DAY, 24, 60)
    assert light[2] > light[12] and vent[12] > vent[2]
    e1 = per_unit("elevator", DAY, 288, 5, seed_key="ELEV-1")
    assert np.array_equal(e1, per_unit("elevator", DAY, 288, 5, seed_key="ELEV-1"))
    assert not np.array_equal(e1, per_unit("elevator", DAY, 288, 5, seed_key="ELEV-2"))
    assert e1.max() > 0.1 and e1.min() >= 0.03 - 1e-12
    # the same wall-clock minutes give the same elevator trips whatever the start
    later = per_unit("elevator", datetime(2019, 5, 6, 12, tzinfo=TZ), 12, 5, seed_key="ELEV-1")
    np.testing.assert_allclose(later, e1[144:156])


def test_serf_maps_dates_by_distance_from_solstice():
    may6 = per_unit("pv_serf", DAY, 96, 15)
    aug6 = per_unit("pv_serf", datetime(2016, 8, 6, tzinfo=TZ), 96, 15)
    np.testing.assert_allclose(may6, aug6)
    assert per_unit("pv_serf", datetime(2026, 12, 20, tzinfo=TZ), 24, 60).max() > 0


def test_scaling_and_price():
    kw = profile_kw("pv_citylearn", 20.0, DAY, 24, 60)
    np.testing.assert_allclose(kw, 20.0 * per_unit("pv_citylearn", DAY, 24, 60))
    p = price_per_kwh(DAY, 24, 60)
    assert p.shape == (24,) and np.all(p > 0) and p.max() > p.min()


def test_asset_profiles():
    pv = Asset("PV", "pv", AssetKind.PV_INVERTER, "C", 0, 0, 10.0, profile="pv_serf")
    np.testing.assert_allclose(asset_profile_kw(pv, DAY, 24, 60), 10 * per_unit("pv_serf", DAY, 24, 60))
    flat = Asset("L", "l", AssetKind.OTHER_LOAD, "C", 0, 0, 3.0)
    np.testing.assert_allclose(asset_profile_kw(flat, DAY, 4, 15), 3.0)
    cp = Asset("CP", "cp", AssetKind.CHARGE_POINT, "C", 0, 0, 7.0)
    with pytest.raises(ProfileError, match=r"CP\.kind"):
        asset_profile_kw(cp, DAY, 4, 15)
    wrong = Asset("W", "w", AssetKind.OTHER_LOAD, "C", 0, 0, 3.0, profile="pv_serf")
    with pytest.raises(ProfileError, match=r"W\.profile"):
        asset_profile_kw(wrong, DAY, 4, 15)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": "nope"}, "profile"),
        ({"horizon_steps": 0}, "horizon_steps"),
        ({"step_minutes": 0}, "step_minutes"),
        ({"start": "2019-05-06"}, "start"),
    ],
)
def test_bad_inputs_name_the_field(kwargs, field):
    args = {"name": "lighting", "start": DAY, "horizon_steps": 4, "step_minutes": 15} | kwargs
    with pytest.raises(ProfileError, match=rf"^{field}:"):
        per_unit(**args)
    with pytest.raises(ProfileError, match=r"^rated_kw:"):
        profile_kw("lighting", -1.0, DAY, 4, 15)
