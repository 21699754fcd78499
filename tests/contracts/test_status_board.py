"""SC2 status board: every function, a passing and a failing case each (titanoboa)."""

from __future__ import annotations

import boa
import pytest

from tests.contracts.packing import StatusWord, pack_status
from tests.contracts.conftest import key


def status_of(board, name):
    s = board.get_status(key(name))
    return (s.status, s.power_w, s.energy_wh, s.updated_at)


def test_constructor_needs_a_contract(board_deployer):
    with boa.env.anchor(), boa.reverts("board: registry is not a contract"):
        board_deployer.deploy(boa.env.generate_address())


def test_registry_is_recorded(deployed):
    assert deployed.board.registry() == deployed.registry.address


def test_update_status_stores_packs_and_logs(deployed):
    b = deployed.board
    boa.env.time_travel(seconds=100)
    with boa.env.prank(deployed.operator):
        b.update_status(key("CP-1"), 2, 7_400, 1_234)
    (log,) = b.get_logs()
    now = boa.env.evm.patch.timestamp
    assert type(log).__name__ == "StatusUpdated"
    assert (log.asset_id, log.status, log.power_w, log.energy_wh, log.timestamp) == (key("CP-1"), 2, 7_400, 1_234, now)
    assert status_of(b, "CP-1") == (2, 7_400, 1_234, now)
    assert b.status_word(key("CP-1")) == pack_status(StatusWord(2, 7_400, 1_234, now))


def test_never_posted_status_is_zero(deployed):
    assert status_of(deployed.board, "CP-1") == (0, 0, 0, 0)
    assert deployed.board.status_word(key("CP-1")) == 0


@pytest.mark.parametrize("status", range(9))
def test_charge_point_takes_every_ocpp_status(deployed, status):
    with boa.env.prank(deployed.operator):
        deployed.board.update_status(key("CP-1"), status, 0, 0)
    assert status_of(deployed.board, "CP-1")[0] == status


@pytest.mark.parametrize("name", ["PV-1", "BAT-1", "LOAD-1"])
def test_other_kinds_take_only_0_2_7_8(deployed, name):
    b = deployed.board
    with boa.env.prank(deployed.operator):
        for status in (0, 2, 7, 8):
            b.update_status(key(name), status, 0, 0)
            assert status_of(b, name)[0] == status
        for status in (1, 3, 4, 5, 6):
            with boa.reverts("board: status not allowed for this kind"):
                b.update_status(key(name), status, 0, 0)


def test_battery_negative_power_and_energy_bounds(deployed):
    b = deployed.board
    with boa.env.prank(deployed.operator):
        b.update_status(key("BAT-1"), 2, -20_000, 50_000)
        assert status_of(b, "BAT-1")[1:3] == (-20_000, 50_000)
        with boa.reverts("board: power exceeds rating"):
            b.update_status(key("BAT-1"), 2, -20_001, 0)
        with boa.reverts("board: power exceeds rating"):
            b.update_status(key("BAT-1"), 2, 20_001, 0)
        with boa.reverts("board: energy exceeds capacity"):
            b.update_status(key("BAT-1"), 2, 0, 50_001)


@pytest.mark.parametrize("name, rated", [("CP-1", 7_400), ("PV-1", 10_000), ("LOAD-1", 3_000)])
def test_power_bounds_for_non_batteries(deployed, name, rated):
    b = deployed.board
    with boa.env.prank(deployed.operator):
        b.update_status(key(name), 0, rated, 999_999)  # energy is unbounded except for batteries
        with boa.reverts("board: power exceeds rating"):
            b.update_status(key(name), 0, rated + 1, 0)
        with boa.reverts("board: negative power"):
            b.update_status(key(name), 0, -1, 0)


def test_update_status_reverts(deployed):
    b, r = deployed.board, deployed.registry
    with boa.env.prank(deployed.operator):
        with boa.reverts("board: unknown asset"):
            b.update_status(key("NOPE"), 0, 0, 0)
        with boa.reverts("board: status > 8"):
            b.update_status(key("CP-1"), 9, 0, 0)
    with boa.env.prank(deployed.stranger), boa.reverts("board: caller is not the operator"):
        b.update_status(key("CP-1"), 0, 0, 0)
    with boa.reverts("board: caller is not the operator"):  # not even the registrar
        b.update_status(key("CP-1"), 0, 0, 0)
    r.deactivate(key("CP-1"))
    with boa.env.prank(deployed.operator), boa.reverts("board: asset inactive"):
        b.update_status(key("CP-1"), 0, 0, 0)


def test_paused_registry_blocks_updates(deployed):
    b, r = deployed.board, deployed.registry
    r.pause()
    with boa.env.prank(deployed.operator):
        with boa.reverts("board: registry paused"):
            b.update_status(key("CP-1"), 0, 0, 0)
        with boa.reverts("board: registry paused"):
            b.update_batch([key("CP-1")], [0], [0], [0])
    r.unpause()
    with boa.env.prank(deployed.operator):
        b.update_status(key("CP-1"), 0, 0, 0)


def test_operator_change_moves_the_right_to_post(deployed):
    b, r = deployed.board, deployed.registry
    r.set_operator(key("CP-1"), deployed.stranger)
    with boa.env.prank(deployed.operator), boa.reverts("board: caller is not the operator"):
        b.update_status(key("CP-1"), 2, 100, 0)
    with boa.env.prank(deployed.stranger):
        b.update_status(key("CP-1"), 2, 100, 0)


def test_update_batch_stores_all_and_logs_each(deployed):
    b = deployed.board
    names = ["CP-1", "PV-1", "BAT-1", "LOAD-1"]
    with boa.env.prank(deployed.operator):
        b.update_batch([key(n) for n in names], [2, 2, 2, 0], [7_000, 9_000, -5_000, 2_000], [10, 20, 30, 0])
    logs = b.get_logs()
    assert [log.asset_id for log in logs] == [key(n) for n in names]
    assert [status_of(b, n)[1] for n in names] == [7_000, 9_000, -5_000, 2_000]
    got = b.get_statuses([key(n) for n in names] + [key("NOPE")])
    assert [s.energy_wh for s in got] == [10, 20, 30, 0, 0]


def test_update_batch_of_64_and_empty(deployed):
    b = deployed.board
    ids = [key(["CP-1", "PV-1", "BAT-1", "LOAD-1"][i % 4]) for i in range(64)]
    with boa.env.prank(deployed.operator):
        b.update_batch(ids, [0] * 64, [i for i in range(64)], [0] * 64)
        assert len(b.get_logs()) == 64
        b.update_batch([], [], [], [])
    assert status_of(b, "LOAD-1")[1] == 63  # the last write of an asset wins


@pytest.mark.parametrize(
    "lens", [(2, 1, 2, 2), (2, 2, 1, 2), (2, 2, 2, 3), (1, 0, 0, 0)]
)
def test_update_batch_unequal_lengths(deployed, lens):
    ids = [key("CP-1"), key("PV-1"), key("LOAD-1")][: lens[0]]
    with boa.env.prank(deployed.operator), boa.reverts("board: batch lengths differ"):
        deployed.board.update_batch(ids, [0] * lens[1], [0] * lens[2], [0] * lens[3])


def test_update_batch_is_all_or_nothing(deployed):
    b, r = deployed.board, deployed.registry
    r.set_operator(key("LOAD-1"), deployed.stranger)
    with boa.env.prank(deployed.operator), boa.reverts("board: caller is not the operator"):
        b.update_batch([key("CP-1"), key("LOAD-1")], [2, 0], [100, 100], [0, 0])
    assert status_of(b, "CP-1") == (0, 0, 0, 0)
    with boa.env.prank(deployed.operator):
        with boa.reverts("board: power exceeds rating"):
            b.update_batch([key("CP-1"), key("PV-1")], [2, 2], [100, 10_001], [0, 0])
        with boa.reverts("board: unknown asset"):
            b.update_batch([key("CP-1"), key("NOPE")], [2, 2], [100, 1], [0, 0])
        with boa.reverts("board: energy exceeds capacity"):
            b.update_batch([key("BAT-1")], [2], [1], [50_001])
        with boa.reverts("board: status not allowed for this kind"):
            b.update_batch([key("PV-1")], [1], [1], [0])
        with boa.reverts("board: status > 8"):
            b.update_batch([key("CP-1")], [9], [1], [0])
        with boa.reverts("board: negative power"):
            b.update_batch([key("CP-1")], [2], [-1], [0])
    r.deactivate(key("PV-1"))
    with boa.env.prank(deployed.operator), boa.reverts("board: asset inactive"):
        b.update_batch([key("PV-1")], [0], [0], [0])
    assert status_of(b, "CP-1") == (0, 0, 0, 0)
