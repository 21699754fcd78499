"""The Ledger client end to end, on the embedded chain and on a real anvil node."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import pytest
from eth_utils import keccak

from contracts.ledger import ContractRevert, Ledger, LedgerInputError
from engine.ledger import LedgerError, LedgerPort, Status, StatusReport
from engine.site.model import AssetKind
from tests.contracts.conftest import second_account, small_site


def test_connect_attributes(ledger, chain_mode):
    assert isinstance(ledger, LedgerPort)
    assert ledger.mode == ("embedded" if chain_mode == "embedded" else "rpc")
    assert ledger.chain_id == (31337 if chain_mode == "anvil" else ledger.chain.w3.eth.chain_id)
    assert ledger.ping()
    assert ledger.deployed_now
    assert ledger.registry_address != ledger.board_address
    assert ledger.is_registrar(ledger.account)
    assert ledger.board.functions.registry().call() == ledger.registry_address
    assert (ledger.rpc_url is None) == (chain_mode == "embedded")


def test_sync_site_registers_everything_once(ledger):
    site = small_site()
    seen = []
    receipts = ledger.sync_site(site, progress=lambda done, total: seen.append((done, total)))
    ids = [c.id for c in site.cabinets] + [a.id for a in site.assets]
    assert sorted(receipts) == sorted(ids)
    assert seen[0] == (0, len(ids)) and seen[-1] == (len(ids), len(ids)) and len(seen) == len(ids) + 1
    assert all(r.gas_used > 0 and r.tx_hash.startswith("0x") for r in receipts.values())
    assert ledger.sync_site(site) == {}  # idempotent
    assert ledger.last_sync_notes == []

    records = {r.id: r for r in ledger.read_registry()}
    assert sorted(records) == sorted(a.id for a in site.assets)
    bat = records["BAT-1"]
    assert (bat.kind, bat.cabinet, bat.rated_kw, bat.capacity_kwh, bat.price_per_kwh, bat.active) == (
        AssetKind.BATTERY, "C-B", 20.0, 50.5, 0.0, True,
    )
    cp = records["CP-2"]
    assert (cp.lat, cp.lon, cp.price_per_kwh, cp.operator) == (34.13702, -118.125, 0.25, ledger.account)
    assert cp.tx_hash == receipts["CP-2"].tx_hash and cp.block == receipts["CP-2"].block_number
    cabs = {c.id: c for c in ledger.read_cabinets()}
    assert (cabs["C-A"].threshold_kw, cabs["C-A"].lat, cabs["C-B"].threshold_kw) == (16.6, 34.137, 50.0)


def test_a_fresh_client_recovers_human_ids_from_logs(ledger):
    ledger.sync_site(small_site())
    fresh = Ledger(ledger.chain, ledger.registry_address, ledger.board_address, ledger.deploy_block)
    assert [r.id for r in fresh.read_registry()] == [r.id for r in ledger.read_registry()]
    assert [c.id for c in fresh.read_cabinets()] == ["C-A", "C-B"]
    assert fresh.read_registry()[0].cabinet == "C-A"
    reg = fresh.registration("LOAD-1")
    assert reg.key == "0x" + keccak(text="LOAD-1").hex()
    key_hex, tx_hash, block = reg
    assert tx_hash == ledger.registration("LOAD-1").tx_hash and block > 0
    assert fresh.registration("NOPE") is None


def test_site_edits_sync_as_threshold_move_and_price(ledger):
    site = small_site()
    ledger.sync_site(site)
    edited = site.with_threshold("C-A", 20.5).with_asset_moved("CP-1", cabinet="C-B", lat=34.2)
    edited = edited.with_asset(replace(edited.asset("CP-2"), price_per_kwh=0.31))
    receipts = ledger.sync_site(edited)
    assert sorted(receipts) == ["C-A", "CP-1", "CP-2"]
    assert ledger.get_cabinet("C-A").threshold_kw == 20.5
    moved = ledger.get_asset("CP-1")
    assert (moved.cabinet, moved.lat) == ("C-B", 34.2)
    assert ledger.get_asset("CP-2").price_per_kwh == 0.31
    assert ledger.sync_site(edited) == {}


def test_sync_notes_what_sc1_cannot_change(ledger):
    site = small_site()
    ledger.sync_site(site)
    ledger.deactivate("LOAD-1")
    bigger = site.with_asset(replace(site.asset("PV-1"), rated_kw=15.0))
    assert ledger.sync_site(bigger) == {}
    assert any("LOAD-1" in n and "deactivated" in n for n in ledger.last_sync_notes)
    assert any("PV-1" in n and "rating" in n for n in ledger.last_sync_notes)
    assert ledger.get_asset("LOAD-1").active is False


def test_post_statuses_in_batches_and_read_back(ledger):
    site = small_site(n_cp=3)
    ledger.sync_site(site)
    reports = [StatusReport(f"CP-{1 + i % 3}", Status.CHARGING, 1.0 + i / 100, i / 10) for i in range(70)]
    reports.append(StatusReport("BAT-1", Status.CHARGING, -12.345, 40.0))
    receipts = ledger.post_statuses(reports)
    assert len(receipts) == 2  # 64 + 7
    got = ledger.get_status("CP-1")  # the last report of CP-1 wins: i = 69
    assert (got.status, got.power_kw, got.energy_kwh) == (Status.CHARGING, 1.69, 6.9)
    assert got.updated_at > 0
    bat = ledger.get_status("BAT-1")
    assert (bat.power_kw, bat.energy_kwh) == (-12.345, 40.0)
    assert ledger.get_status("PV-1") is None
    bulk = ledger.get_statuses(["CP-1", "PV-1", "BAT-1"])
    assert bulk["CP-1"] == got and bulk["PV-1"] is None and bulk["BAT-1"] == bat

    single = ledger.post_status(StatusReport("PV-1", Status.CHARGING, 9.5, 30.2))
    assert single.gas_used > 0
    history = ledger.status_history()
    assert len(history) == 72
    assert [h.asset_id for h in history[:3]] == ["CP-1", "CP-2", "CP-3"]
    cp1 = ledger.status_history("CP-1")
    assert len(cp1) == 24 and cp1[-1].power_kw == 1.69 and cp1[-1].tx_hash == receipts[1].tx_hash
    assert ledger.status_history("CP-1", chunk=1) == cp1
    assert ledger.status_history(from_block=receipts[1].block_number) == history[64:]
    assert ledger.status_history(to_block=receipts[0].block_number) == history[:64]


def test_reverts_carry_the_contract_reason(ledger):
    ledger.sync_site(small_site())
    with pytest.raises(ContractRevert) as err:
        ledger.post_status(StatusReport("CP-1", Status.CHARGING, 6.7, 0))
    assert err.value.reason == "board: power exceeds rating"
    assert isinstance(err.value, LedgerError)
    with pytest.raises(ContractRevert, match="board: status > 8"):
        ledger.post_statuses([StatusReport("CP-1", 9, 1, 0)])
    with pytest.raises(ContractRevert, match="board: status not allowed for this kind"):
        ledger.post_status(StatusReport("PV-1", Status.PREPARING, 1, 0))
    with pytest.raises(ContractRevert, match="board: negative power"):
        ledger.post_status(StatusReport("LOAD-1", Status.CHARGING, -1, 0))
    with pytest.raises(ContractRevert, match="board: energy exceeds capacity"):
        ledger.post_status(StatusReport("BAT-1", Status.CHARGING, 1, 50.6))
    with pytest.raises(ContractRevert, match="board: unknown asset"):
        ledger.post_status(StatusReport("NOPE", Status.AVAILABLE, 0, 0))
    with pytest.raises(ContractRevert, match="registry: price only for a charge point"):
        ledger.set_price("PV-1", 0.2)
    with pytest.raises(ContractRevert, match="registry: duplicate asset id"):
        ledger.register_asset(small_site().asset("CP-1"))
    with pytest.raises(ContractRevert, match="registry: unknown cabinet"):
        ledger.set_threshold("C-X", 1)
    ledger.pause()
    assert ledger.is_paused()
    with pytest.raises(ContractRevert, match="pausable: contract is paused"):
        ledger.set_threshold("C-A", 1)
    with pytest.raises(ContractRevert, match="board: registry paused"):
        ledger.post_status(StatusReport("CP-1", Status.AVAILABLE, 0, 0))
    ledger.unpause()
    ledger.post_status(StatusReport("CP-1", Status.AVAILABLE, 0, 0))


def test_operators_and_roles(ledger):
    ledger.sync_site(small_site())
    other = ledger.for_account(second_account(ledger))
    assert other.account != ledger.account
    with pytest.raises(ContractRevert, match="board: caller is not the operator"):
        other.post_status(StatusReport("CP-1", Status.CHARGING, 1, 0))
    with pytest.raises(ContractRevert, match="registry: caller is not a registrar"):
        other.set_threshold("C-A", 1)
    ledger.set_operator("CP-1", other.account)
    other.post_status(StatusReport("CP-1", Status.CHARGING, 1, 0))
    other.set_price("CP-1", 0.4)  # the operator may set its price
    assert ledger.get_asset("CP-1").operator == other.account
    assert ledger.get_asset("CP-1").price_per_kwh == 0.4
    with pytest.raises(ContractRevert, match="board: caller is not the operator"):
        ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1, 0))
    ledger.grant_registrar(other.account)
    other.set_threshold("C-A", 12)
    ledger.revoke_registrar(other.account)
    assert not ledger.is_registrar(other.account)


@pytest.mark.parametrize(
    "report, field",
    [
        (StatusReport("CP-1", Status.CHARGING, math.nan, 0), "reports[1].power_kw"),
        (StatusReport("CP-1", Status.CHARGING, 1, -0.5), "reports[1].energy_kwh"),
        (StatusReport("CP-1", Status.CHARGING, 3e6, 0), "reports[1].power_kw"),
        (StatusReport("", Status.CHARGING, 1, 0), "reports[1].asset_id"),
        (StatusReport("CP-1", 300, 1, 0), "reports[1].status"),
    ],
)
def test_bad_reports_name_the_field_and_send_nothing(report, field, tmp_path):
    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())
    good = StatusReport("CP-2", Status.CHARGING, 1, 0)
    with pytest.raises(LedgerInputError) as err:
        ledger.post_statuses([good, report])
    assert str(err.value).startswith(field) and err.value.field == field
    assert ledger.get_status("CP-2") is None


def test_bad_site_values_name_the_field(tmp_path):
    ledger = Ledger.connect("", state_dir=tmp_path)
    site = small_site()
    cab = replace(site.cabinets[0], lat=91.0)
    with pytest.raises(LedgerInputError, match=r"^cabinet\.lat"):
        ledger.register_cabinet(cab)
    with pytest.raises(LedgerInputError, match=r"^asset\.rated_kw"):
        ledger.register_asset(replace(site.asset("CP-1"), rated_kw=-1))
    with pytest.raises(LedgerInputError, match=r"^operator"):
        ledger.register_asset(site.asset("CP-1"), operator="not-an-address")
    with pytest.raises(LedgerInputError, match=r"^threshold_kw"):
        ledger.set_threshold("C-A", math.inf)


def test_concurrent_writers_keep_nonces_straight(ledger):
    ledger.sync_site(small_site(n_cp=4))
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(3):
                ledger.post_status(StatusReport(f"CP-{i}", Status.CHARGING, 0.5 + j, j))
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [ledger.get_status(f"CP-{i}").power_kw for i in range(1, 5)] == [2.5] * 4
    assert len(ledger.status_history()) == 12
