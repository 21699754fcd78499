"""Pack/unpack of the hand-packed storage words: Python mirror vs the contracts (hypothesis)."""

from __future__ import annotations

import boa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contracts.packing import HotWord, StatusWord, hot_capacity_field, pack_hot, pack_status, unpack_hot, unpack_status
from tests.contracts.conftest import BATTERY, CP, key

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u64 = st.integers(0, 2**64 - 1)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(st.integers(0, 2**160 - 1), st.integers(0, 255), st.booleans(), u32, st.integers(0, 2**48 - 1))
def test_hot_word_roundtrip(operator, kind, active, rated, cap):
    h = HotWord(operator, kind, active, rated, cap)
    word = pack_hot(h)
    assert word < 2**256 and unpack_hot(word) == h


@given(st.integers(0, 255), i32, u64, u64)
def test_status_word_roundtrip(status, power, energy, ts):
    s = StatusWord(status, power, energy, ts)
    word = pack_status(s)
    assert word < 2**256 and unpack_status(word) == s


@SETTINGS
@given(
    kind=st.sampled_from([CP, BATTERY]),
    lat=st.integers(-90_000_000, 90_000_000),
    lon=st.integers(-180_000_000, 180_000_000),
    rated=st.integers(1, 2**32 - 1),
    cap=st.one_of(st.integers(1, 2**48), st.integers(2**48 - 2, 2**64 - 1)),
    price=u32,
    operator_seed=st.integers(1, 2**160 - 1),
)
def test_registry_packs_like_the_mirror(deployed, kind, lat, lon, rated, cap, price, operator_seed):
    r = deployed.registry
    operator = "0x" + operator_seed.to_bytes(20, "big").hex()
    cap, price = (cap, 0) if kind == BATTERY else (0, price)
    with boa.env.anchor():
        r.register_asset(key("X"), "X", kind, key("C1"), operator, lat, lon, rated, cap, price)
        a = r.get_asset(key("X"))
        assert (a.kind, a.lat_e6, a.lon_e6, a.rated_power_w, a.capacity_wh, a.price_milli_per_kwh) == (
            kind, lat, lon, rated, cap, price,
        )
        assert int(a.operator, 16) == operator_seed and a.cabinet_id == key("C1") and a.active
        assert unpack_hot(r.hot_word(key("X"))) == HotWord(operator_seed, kind, True, rated, hot_capacity_field(cap))
        assert r.status_auth(key("X"))[2] == cap  # what SC2 sees, from the hot or the cold word


@SETTINGS
@given(status=st.sampled_from([0, 2, 7, 8]), power=st.integers(-20_000, 20_000), energy=st.integers(0, 50_000),
       dt=st.integers(1, 10**6))
def test_board_packs_like_the_mirror(deployed, status, power, energy, dt):
    b = deployed.board
    with boa.env.anchor():
        boa.env.time_travel(seconds=dt)
        with boa.env.prank(deployed.operator):
            b.update_status(key("BAT-1"), status, power, energy)
        now = boa.env.evm.patch.timestamp
        assert unpack_status(b.status_word(key("BAT-1"))) == StatusWord(status, power, energy, now)
        s = b.get_status(key("BAT-1"))
        assert (s.status, s.power_w, s.energy_wh, s.updated_at) == (status, power, energy, now)
