"""Chain modes: choosing embedded vs rpc, keys, unreachable nodes, recorded deployments, caches."""

from __future__ import annotations

import json
import time

import pytest

from contracts.chain import ChainUnavailable, revert_reason
from contracts.compile import BOARD, REGISTRY, compile_contract, source_hash
from contracts.deployments import Deployment, deployments_path, load_deployment, record_deployment
from contracts.ledger import Ledger
from engine.ledger import LedgerError, Status, StatusReport
from tests.contracts.conftest import AnvilNode, free_port, small_site


def test_empty_env_url_means_embedded(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAIN_RPC_URL", "")
    ledger = Ledger.connect(state_dir=tmp_path)
    assert ledger.mode == "embedded" and ledger.rpc_url is None and ledger.deployed_now
    assert not deployments_path(tmp_path).exists()  # the embedded chain is never recorded


def test_chain_now_is_the_later_of_the_wall_clock_and_the_head_block(tmp_path):
    """Each block takes at least a second past its parent: a burst of transactions (deploying
    and writing a site) puts the embedded chain's clock ahead of the wall clock, and status ages
    are then counted from its head (ChainService.chain_now), not from the wall clock."""
    from contracts.service import ChainService

    site = small_site()
    svc = ChainService(lambda: site, tmp_path)
    assert svc.ensure_synced()
    led = svc.ledger
    head = led.head_timestamp()
    assert head == led.chain.w3.eth.get_block("latest")["timestamp"]
    wall = time.time()
    assert head >= int(wall) - 1  # never behind: blocks are stamped max(wall, parent + 1)
    assert svc.chain_now(wall) == max(wall, float(head))
    assert svc.chain_now(head + 500.0) == head + 500.0  # the wall clock ahead of an idle chain


def test_unreachable_node_names_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    t0 = time.perf_counter()
    with pytest.raises(ChainUnavailable) as err:
        Ledger.connect(url, state_dir=tmp_path, retries=2, backoff_s=0.01)
    assert url in str(err.value) and err.value.url == url
    assert isinstance(err.value, LedgerError)
    assert time.perf_counter() - t0 < 10


def test_remote_url_needs_a_private_key(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAIN_PRIVATE_KEY", raising=False)
    with pytest.raises(LedgerError, match="CHAIN_PRIVATE_KEY"):
        Ledger.connect("https://rpc.example.invalid", state_dir=tmp_path)
    with pytest.raises(LedgerError, match="CHAIN_PRIVATE_KEY: not a valid private key"):
        Ledger.connect("http://127.0.0.1:1", private_key="0x1234", state_dir=tmp_path)
    with pytest.raises(LedgerError, match="CHAIN_RPC_URL: only http"):
        Ledger.connect("ws://127.0.0.1:8545", private_key="0x" + "11" * 32, state_dir=tmp_path)


def test_compile_cache_is_keyed_by_source_hash(tmp_path, monkeypatch):
    import vyper

    import contracts.compile as compile_mod

    monkeypatch.setattr(compile_mod, "_MEMO", {})
    compiled = compile_contract(REGISTRY, tmp_path)
    digest = source_hash(REGISTRY)
    cache = tmp_path / "chain" / "build" / f"{REGISTRY}-{digest[:20]}.json"
    assert cache.is_file() and json.loads(cache.read_text())["source_hash"] == digest
    assert compiled.bytecode.startswith("0x") and any(e.get("name") == "register_asset" for e in compiled.abi)
    assert source_hash(BOARD) != digest

    def no_compiler(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(compile_mod, "_MEMO", {})
    monkeypatch.setattr(vyper, "compile_code", no_compiler)
    assert compile_contract(REGISTRY, tmp_path) == compiled


def test_deployments_file_roundtrip_and_garbage(tmp_path):
    dep = Deployment("0x" + "11" * 20, "0x" + "22" * 20, "h1", "h2", "0x" + "33" * 20, 7, "http://x", 1)
    record_deployment(5, dep, tmp_path)
    record_deployment(6, dep, tmp_path)
    assert load_deployment(5, tmp_path) == dep and load_deployment(7, tmp_path) is None
    assert set(json.loads(deployments_path(tmp_path).read_text())) == {"5", "6"}
    deployments_path(tmp_path).write_text("{not json")
    assert load_deployment(5, tmp_path) is None


@pytest.mark.parametrize(
    "exc, reason",
    [
        (Exception("execution reverted: registry: zero id"), "registry: zero id"),
        (Exception("execution reverted"), None),
        (Exception("'execution reverted: board: status > 8'"), "board: status > 8"),
    ],
)
def test_revert_reason_parsing(exc, reason):
    assert revert_reason(exc) == reason


@pytest.mark.anvil
def test_env_url_local_anvil_falls_back_to_default_key(anvil_node, monkeypatch, tmp_path):
    monkeypatch.setenv("CHAIN_RPC_URL", anvil_node.url)
    monkeypatch.delenv("CHAIN_PRIVATE_KEY", raising=False)
    ledger = Ledger.connect(state_dir=tmp_path)
    assert ledger.mode == "rpc" and ledger.rpc_url == anvil_node.url and ledger.chain_id == 31337
    assert ledger.account == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    dep = load_deployment(31337, tmp_path)
    assert dep.registry == ledger.registry_address and dep.board == ledger.board_address
    again = Ledger.connect(state_dir=tmp_path)
    assert not again.deployed_now and again.registry_address == ledger.registry_address


@pytest.mark.anvil
def test_anvil_restart_keeps_the_registry(tmp_path):
    """Kill anvil, start it again from the same --state file: deployments are reused."""
    state_dir = tmp_path / "ev"
    node = AnvilNode(tmp_path / "anvil-state.json").start()
    try:
        ledger = Ledger.connect(node.url, state_dir=state_dir)
        assert ledger.deployed_now
        ledger.sync_site(small_site())
        ledger.post_status(StatusReport("CP-1", Status.CHARGING, 3.3, 1.25))
        before = ledger.read_registry()
        time.sleep(1.6)  # --state-interval 1
    finally:
        node.stop()  # SIGTERM: anvil also dumps its state on exit
    assert (tmp_path / "anvil-state.json").is_file()

    node2 = AnvilNode(tmp_path / "anvil-state.json").start()
    try:
        again = Ledger.connect(node2.url, state_dir=state_dir)
        assert not again.deployed_now
        assert (again.registry_address, again.board_address) == (ledger.registry_address, ledger.board_address)
        assert again.read_registry() == before  # human ids recovered from the preserved logs
        got = again.get_status("CP-1")
        assert (got.status, got.power_kw, got.energy_kwh) == (Status.CHARGING, 3.3, 1.25)
        assert again.sync_site(small_site()) == {}
        again.post_status(StatusReport("CP-1", Status.FINISHING, 0, 1.5))  # nonces picked up from the node
        assert len(again.status_history("CP-1")) == 2
    finally:
        node2.stop()


@pytest.mark.anvil
def test_recorded_deployment_without_code_is_redeployed(tmp_path):
    state_dir = tmp_path / "ev"
    node = AnvilNode(tmp_path / "a.json").start()
    try:
        first = Ledger.connect(node.url, state_dir=state_dir)
    finally:
        node.stop()
    fresh = AnvilNode(tmp_path / "b.json").start()  # a new, empty chain with the same chain id
    try:
        ledger = Ledger.connect(fresh.url, state_dir=state_dir)
        assert ledger.deployed_now
        assert ledger.chain.code_at(ledger.registry_address)
        assert load_deployment(31337, state_dir).registry == ledger.registry_address
        assert first.deployed_now
    finally:
        fresh.stop()


@pytest.mark.anvil
def test_recorded_address_with_foreign_code_is_redeployed(anvil_node, tmp_path):
    first = Ledger.connect(anvil_node.url, state_dir=tmp_path)
    dep = load_deployment(31337, tmp_path)
    swapped = Deployment(dep.board, dep.registry, dep.registry_hash, dep.board_hash, dep.deployer, dep.block)
    record_deployment(31337, swapped, tmp_path)  # code exists at both, but not the right code
    again = Ledger.connect(anvil_node.url, state_dir=tmp_path)
    assert again.deployed_now and again.registry_address not in (first.registry_address, first.board_address)
    assert load_deployment(31337, tmp_path).registry == again.registry_address


def test_connection_errors_are_retried_with_backoff():
    from contracts.chain import Chain

    chain = Chain.__new__(Chain)
    Chain.__init__(chain, None, "rpc", "http://127.0.0.1:9", "0x" + "11" * 20, None, retries=3, backoff_s=0.01)
    calls = []

    def flaky():
        calls.append(time.perf_counter())
        if len(calls) < 3:
            raise ConnectionRefusedError("down")
        return 42

    assert chain._rpc("eth_test", flaky) == 42 and len(calls) == 3
    assert calls[2] - calls[1] >= calls[1] - calls[0] > 0  # exponential backoff
    calls.clear()
    with pytest.raises(ChainUnavailable, match=r"http://127.0.0.1:9 is unreachable: eth_fail"):
        chain._rpc("eth_fail", lambda: (_ for _ in ()).throw(ConnectionRefusedError("down")))


@pytest.mark.anvil
def test_two_clients_with_one_key_resync_nonces(anvil_node, tmp_path):
    a = Ledger.connect(anvil_node.url, state_dir=tmp_path)
    b = Ledger.connect(anvil_node.url, state_dir=tmp_path)  # same key, own nonce book
    assert not b.deployed_now
    site = small_site(n_cp=1)
    a.sync_site(site)
    b.post_status(StatusReport("CP-1", Status.CHARGING, 1, 0))  # b learns its nonce
    a.post_status(StatusReport("CP-1", Status.CHARGING, 2, 0))  # a moves it on
    b.post_status(StatusReport("CP-1", Status.CHARGING, 3, 0))  # b's cached nonce is stale: resync
    assert a.get_status("CP-1").power_kw == 3.0
