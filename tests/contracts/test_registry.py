"""SC1 asset registry: every function, a passing and a failing case each (titanoboa)."""

from __future__ import annotations

import boa
import pytest

from tests.contracts.conftest import BATTERY, CP, LAT, LOAD, LON, PV, key

ZERO = b"\x00" * 32


def asset_args(name="CP-9", kind=CP, cabinet="C1", operator=None, lat=LAT, lon=LON, rated=7_400, cap=0, price=100):
    return (key(name), name, kind, key(cabinet), operator, lat, lon, rated, cap, price)


# ---------------------------------------------------------------- deployment and roles
def test_deployer_is_admin_and_registrar(deployed):
    r = deployed.registry
    assert r.owner() == deployed.admin
    assert r.is_registrar(deployed.admin)
    assert not r.is_registrar(deployed.stranger)
    assert not r.paused()


def test_grant_and_revoke_registrar(deployed):
    r, s = deployed.registry, deployed.stranger
    r.grant_registrar(s)
    assert r.is_registrar(s)
    with boa.env.prank(s):
        r.register_cabinet(key("C2"), "C2", 1_000, LAT, LON)
    r.revoke_registrar(s)
    assert not r.is_registrar(s)
    with boa.env.prank(s), boa.reverts("registry: caller is not a registrar"):
        r.register_cabinet(key("C3"), "C3", 1_000, LAT, LON)


def test_role_changes_are_admin_only(deployed):
    r, s = deployed.registry, deployed.stranger
    with boa.env.prank(s), boa.reverts("ownable: caller is not the owner"):
        r.grant_registrar(s)
    with boa.env.prank(s), boa.reverts("ownable: caller is not the owner"):
        r.revoke_registrar(deployed.admin)
    with boa.reverts("registry: zero account"):
        r.grant_registrar("0x" + "00" * 20)


def test_pause_and_unpause_admin_only(deployed):
    r, s = deployed.registry, deployed.stranger
    with boa.env.prank(s), boa.reverts("ownable: caller is not the owner"):
        r.pause()
    r.pause()
    assert r.paused()
    with boa.reverts("pausable: contract is paused"):
        r.pause()
    with boa.env.prank(s), boa.reverts("ownable: caller is not the owner"):
        r.unpause()
    r.unpause()
    assert not r.paused()
    with boa.reverts("pausable: contract is not paused"):
        r.unpause()


def test_paused_blocks_every_state_change_but_unpause_and_role_changes(deployed):
    r, op = deployed.registry, deployed.operator
    r.pause()
    calls = [
        lambda: r.register_cabinet(key("C2"), "C2", 1_000, LAT, LON),
        lambda: r.set_threshold(key("C1"), 5),
        lambda: r.register_asset(*asset_args(operator=op)),
        lambda: r.move_asset(key("CP-1"), key("C1"), LAT, LON),
        lambda: r.set_price(key("CP-1"), 1),
        lambda: r.set_operator(key("CP-1"), deployed.stranger),
        lambda: r.deactivate(key("CP-1")),
    ]
    for call in calls:
        with boa.reverts("pausable: contract is paused"):
            call()
    with boa.env.prank(op), boa.reverts("pausable: contract is paused"):
        r.set_price(key("CP-1"), 1)
    r.grant_registrar(deployed.stranger)  # the admin's role changes still work
    r.revoke_registrar(deployed.stranger)
    r.unpause()
    r.set_threshold(key("C1"), 5)
    assert r.get_cabinet(key("C1")).threshold_w == 5


def test_transfer_ownership_moves_admin(deployed):
    r, s = deployed.registry, deployed.stranger
    r.transfer_ownership(s)
    assert r.owner() == s
    with boa.reverts("ownable: caller is not the owner"):
        r.pause()
    with boa.env.prank(s):
        r.pause()


# --------------------------------------------------------------------------- cabinets
def test_register_cabinet_stores_and_logs(deployed):
    r = deployed.registry
    r.register_cabinet(key("C2"), "C2", 16_600, -90_000_000, 180_000_000)
    (log,) = r.get_logs()
    assert type(log).__name__ == "CabinetRegistered"
    assert log.cabinet_id == key("C2") and log.name == "C2" and log.threshold_w == 16_600
    c = r.get_cabinet(key("C2"))
    assert (c.threshold_w, c.lat_e6, c.lon_e6, c.exists) == (16_600, -90_000_000, 180_000_000, True)
    assert r.cabinet_count() == 2
    assert r.cabinet_at(1) == key("C2")
    assert r.cabinet_ids(0, 10) == [key("C1"), key("C2")]


@pytest.mark.parametrize(
    "args, reason",
    [
        ((ZERO, "Z", 1, 0, 0), "registry: zero id"),
        ((key("C1"), "C1", 1, 0, 0), "registry: duplicate cabinet id"),
        ((key("CP-1"), "CP-1", 1, 0, 0), "registry: id already used by an asset"),
        ((key("C2"), "C2", 1, 90_000_001, 0), "registry: latitude out of range"),
        ((key("C2"), "C2", 1, -90_000_001, 0), "registry: latitude out of range"),
        ((key("C2"), "C2", 1, 0, 180_000_001), "registry: longitude out of range"),
        ((key("C2"), "C2", 1, 0, -180_000_001), "registry: longitude out of range"),
    ],
)
def test_register_cabinet_reverts(deployed, args, reason):
    with boa.reverts(reason):
        deployed.registry.register_cabinet(*args)


def test_register_cabinet_needs_registrar(deployed):
    with boa.env.prank(deployed.stranger), boa.reverts("registry: caller is not a registrar"):
        deployed.registry.register_cabinet(key("C2"), "C2", 1, 0, 0)


def test_set_threshold(deployed):
    r = deployed.registry
    r.set_threshold(key("C1"), 12_345)
    (log,) = r.get_logs()
    assert r.get_cabinet(key("C1")).threshold_w == 12_345
    assert r.get_cabinet(key("C1")).lat_e6 == LAT  # other fields untouched
    assert (type(log).__name__, log.threshold_w) == ("ThresholdChanged", 12_345)
    with boa.reverts("registry: unknown cabinet"):
        r.set_threshold(key("NOPE"), 1)
    with boa.env.prank(deployed.stranger), boa.reverts("registry: caller is not a registrar"):
        r.set_threshold(key("C1"), 1)


def test_unknown_cabinet_reads_as_not_existing(deployed):
    c = deployed.registry.get_cabinet(key("NOPE"))
    assert (c.threshold_w, c.exists) == (0, False)
    with boa.reverts("registry: index out of range"):
        deployed.registry.cabinet_at(1)


# ----------------------------------------------------------------------------- assets
def test_register_asset_stores_every_field(deployed):
    r, op = deployed.registry, deployed.operator
    b = r.get_asset(key("BAT-1"))
    assert (b.kind, b.cabinet_id, b.operator, b.lat_e6, b.lon_e6) == (BATTERY, key("C1"), op, LAT, LON)
    assert (b.rated_power_w, b.capacity_wh, b.price_milli_per_kwh, b.active) == (20_000, 50_000, 0, True)
    c = r.get_asset(key("CP-1"))
    assert (c.kind, c.price_milli_per_kwh, c.capacity_wh) == (CP, 250, 0)
    assert r.asset_count() == 4
    assert [r.asset_at(i) for i in range(4)] == [key("CP-1"), key("PV-1"), key("BAT-1"), key("LOAD-1")]
    assert r.asset_ids(1, 2) == [key("PV-1"), key("BAT-1")]
    assert r.asset_ids(3, 500) == [key("LOAD-1")]
    assert r.asset_ids(9, 1) == []
    infos = r.get_assets([key("CP-1"), key("NOPE")])
    assert infos[0].kind == CP and infos[1].kind == 0


def test_register_asset_event_carries_human_id(deployed):
    r = deployed.registry
    r.register_asset(*asset_args("CP-9", operator=deployed.operator, price=300))
    (log,) = r.get_logs()
    assert type(log).__name__ == "AssetRegistered"
    assert (log.asset_id, log.cabinet_id, log.name, log.kind, log.price_milli_per_kwh) == (
        key("CP-9"), key("C1"), "CP-9", CP, 300,
    )


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"name": None}, "registry: zero id"),
        ({"name": "CP-1"}, "registry: duplicate asset id"),
        ({"name": "C1"}, "registry: id already used by a cabinet"),
        ({"kind": 0}, "registry: kind not in 1..4"),
        ({"kind": 5}, "registry: kind not in 1..4"),
        ({"cabinet": "NOPE"}, "registry: unknown cabinet"),
        ({"operator": "0x" + "00" * 20}, "registry: zero operator"),
        ({"lat": 90_000_001}, "registry: latitude out of range"),
        ({"lon": -180_000_001}, "registry: longitude out of range"),
        ({"rated": 0}, "registry: rated power is 0"),
        ({"kind": BATTERY, "price": 0, "cap": 0}, "registry: battery capacity is 0"),
        ({"kind": CP, "cap": 1}, "registry: capacity only for a battery"),
        ({"kind": PV, "cap": 5, "price": 0}, "registry: capacity only for a battery"),
        ({"kind": PV, "price": 1}, "registry: price only for a charge point"),
        ({"kind": BATTERY, "cap": 10, "price": 1}, "registry: price only for a charge point"),
        ({"kind": LOAD, "price": 1}, "registry: price only for a charge point"),
    ],
)
def test_register_asset_reverts(deployed, overrides, reason):
    kw = {"operator": deployed.operator, **overrides}
    name = kw.pop("name", "CP-9")
    args = list(asset_args(name or "X", **kw))
    if name is None:
        args[0] = ZERO
    with boa.reverts(reason):
        deployed.registry.register_asset(*args)


def test_register_asset_needs_registrar(deployed):
    with boa.env.prank(deployed.operator), boa.reverts("registry: caller is not a registrar"):
        deployed.registry.register_asset(*asset_args(operator=deployed.operator))


def test_register_asset_passes_at_the_bounds(deployed):
    r = deployed.registry
    r.register_asset(*asset_args("E", kind=BATTERY, lat=-90_000_000, lon=180_000_000, rated=2**32 - 1,
                                 cap=2**64 - 1, price=0, operator=deployed.operator))
    a = r.get_asset(key("E"))
    assert (a.lat_e6, a.lon_e6, a.rated_power_w, a.capacity_wh) == (-90_000_000, 180_000_000, 2**32 - 1, 2**64 - 1)


def test_move_asset(deployed):
    r = deployed.registry
    r.register_cabinet(key("C2"), "C2", 1_000, LAT, LON)
    r.move_asset(key("BAT-1"), key("C2"), LAT + 5, LON - 5)
    (log,) = r.get_logs()
    a = r.get_asset(key("BAT-1"))
    assert (a.cabinet_id, a.lat_e6, a.lon_e6) == (key("C2"), LAT + 5, LON - 5)
    assert (a.capacity_wh, a.rated_power_w, a.operator) == (50_000, 20_000, deployed.operator)
    assert (type(log).__name__, log.cabinet_id) == ("AssetMoved", key("C2"))
    with boa.reverts("registry: unknown cabinet"):
        r.move_asset(key("BAT-1"), key("NOPE"), LAT, LON)
    with boa.reverts("registry: unknown asset"):
        r.move_asset(key("NOPE"), key("C1"), LAT, LON)
    with boa.reverts("registry: latitude out of range"):
        r.move_asset(key("BAT-1"), key("C1"), 91_000_000, LON)
    with boa.env.prank(deployed.operator), boa.reverts("registry: caller is not a registrar"):
        r.move_asset(key("BAT-1"), key("C1"), LAT, LON)
    r.deactivate(key("BAT-1"))
    with boa.reverts("registry: asset inactive"):
        r.move_asset(key("BAT-1"), key("C1"), LAT, LON)


def test_set_price_by_registrar_and_operator(deployed):
    r = deployed.registry
    r.set_price(key("CP-1"), 111)
    (log,) = r.get_logs()
    assert r.get_asset(key("CP-1")).price_milli_per_kwh == 111
    assert (type(log).__name__, log.price_milli_per_kwh) == ("PriceChanged", 111)
    with boa.env.prank(deployed.operator):
        r.set_price(key("CP-1"), 222)
    a = r.get_asset(key("CP-1"))
    assert (a.price_milli_per_kwh, a.lat_e6, a.lon_e6, a.cabinet_id) == (222, LAT, LON, key("C1"))


def test_set_price_reverts(deployed):
    r = deployed.registry
    with boa.reverts("registry: unknown asset"):
        r.set_price(key("NOPE"), 1)
    for name in ("PV-1", "BAT-1", "LOAD-1"):
        with boa.reverts("registry: price only for a charge point"):
            r.set_price(key(name), 1)
    with boa.env.prank(deployed.stranger), boa.reverts("registry: caller is not a registrar or the operator"):
        r.set_price(key("CP-1"), 1)
    r.deactivate(key("CP-1"))
    with boa.reverts("registry: asset inactive"):
        r.set_price(key("CP-1"), 1)


def test_set_operator(deployed):
    r, s = deployed.registry, deployed.stranger
    r.set_operator(key("CP-1"), s)
    (log,) = r.get_logs()
    a = r.get_asset(key("CP-1"))
    assert (a.operator, a.kind, a.rated_power_w, a.active) == (s, CP, 7_400, True)
    assert (type(log).__name__, log.operator) == ("OperatorChanged", s)
    with boa.reverts("registry: zero operator"):
        r.set_operator(key("CP-1"), "0x" + "00" * 20)
    with boa.reverts("registry: unknown asset"):
        r.set_operator(key("NOPE"), s)
    with boa.env.prank(s), boa.reverts("registry: caller is not a registrar"):
        r.set_operator(key("CP-1"), s)


def test_deactivate(deployed):
    r = deployed.registry
    r.deactivate(key("PV-1"))
    (log,) = r.get_logs()
    a = r.get_asset(key("PV-1"))
    assert (a.active, a.kind, a.operator) == (False, PV, deployed.operator)
    assert type(log).__name__ == "AssetDeactivated"
    with boa.reverts("registry: asset inactive"):
        r.deactivate(key("PV-1"))
    with boa.reverts("registry: duplicate asset id"):  # the id stays taken
        r.register_asset(*asset_args("PV-1", kind=PV, price=0, operator=deployed.operator))
    with boa.reverts("registry: unknown asset"):
        r.deactivate(key("NOPE"))
    with boa.env.prank(deployed.operator), boa.reverts("registry: caller is not a registrar"):
        r.deactivate(key("CP-1"))


def test_unknown_asset_reads_as_zero(deployed):
    a = deployed.registry.get_asset(key("NOPE"))
    assert (a.kind, a.operator, a.active) == (0, "0x" + "00" * 20, False)
    with boa.reverts("registry: index out of range"):
        deployed.registry.asset_at(4)


def test_status_auth_views(deployed):
    r = deployed.registry
    paused, hot, cap = r.status_auth(key("BAT-1"))
    assert (paused, cap) == (False, 50_000) and hot == r.hot_word(key("BAT-1"))
    paused, hots, caps = r.status_auth_batch([key("CP-1"), key("BAT-1"), key("NOPE")])
    assert caps == [0, 50_000, 0] and hots[2] == 0
    r.pause()
    assert r.status_auth(key("CP-1"))[0] is True


def test_bulk_cabinet_views_and_constants(deployed):
    r = deployed.registry
    r.register_cabinet(key("C2"), "C2", 2_000, -LAT, -LON)
    got = r.get_cabinets([key("C2"), key("NOPE"), key("C1")])
    assert [(c.threshold_w, c.lat_e6, c.exists) for c in got] == [(2_000, -LAT, True), (0, 0, False), (20_000, LAT, True)]
    assert r.cabinet_ids(1, 1) == [key("C2")] and r.cabinet_ids(2, 5) == []
    assert (r.KIND_CHARGE_POINT(), r.KIND_PV_INVERTER(), r.KIND_BATTERY(), r.KIND_OTHER_LOAD()) == (1, 2, 3, 4)
    assert (r.MAX_BATCH(), r.MAX_PAGE()) == (64, 256)
