"""The chain client under faults, through a fault-injecting proxy in front of a real anvil.

Defects of the reliability issue: (1) no duplicate after a lost reply, (2) no jam after the
node rolls back, (3) no caller blocked long by a hanging node, (4) one writer per key.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from contracts.chain import ChainUnavailable
from contracts.ledger import Ledger
from contracts.service import ChainService
from contracts.signer import WriterBusy
from engine.ledger import Status, StatusReport
from tests.contracts.conftest import ROOT, AnvilNode, free_port, small_site
from tests.contracts.faultproxy import FaultProxy, HangingListener
from tests.contracts.test_settle import final

pytestmark = pytest.mark.anvil


@pytest.fixture
def proxy(anvil_node):
    with FaultProxy(anvil_node.url, delay_s=0.05) as p:
        yield p


def _fast(url: str, state_dir: Path, **kw) -> Ledger:
    return Ledger.connect(url, state_dir=state_dir, backoff_s=0.01, **kw)


# -- 1. lost replies ------------------------------------------------------------------------
def test_a_lost_send_reply_makes_no_second_transaction(proxy, tmp_path):
    ledger = _fast(proxy.url, tmp_path)
    ledger.sync_site(small_site())
    proxy.once("eth_sendRawTransaction", "drop")
    rc = ledger.post_status(StatusReport("CP-1", Status.CHARGING, 2.5, 1.0))
    assert proxy.injected["drop"] == 1
    history = ledger.status_history("CP-1")
    assert len(history) == 1 and history[0].tx_hash == rc.tx_hash


def test_a_lost_reply_to_register_asset_is_not_a_duplicate(proxy, tmp_path):
    from dataclasses import replace

    ledger = _fast(proxy.url, tmp_path)
    site = small_site()
    ledger.sync_site(site)
    extra = replace(site.asset("CP-1"), id="CP-9", lat=34.1379)
    proxy.once("eth_sendRawTransaction", "drop")
    rc = ledger.register_asset(extra)
    assert proxy.injected["drop"] == 1
    assert ledger.get_asset("CP-9") is not None and ledger.registration("CP-9").tx_hash == rc.tx_hash


def test_lost_replies_of_every_kind_of_call(proxy, tmp_path):
    ledger = _fast(proxy.url, tmp_path)
    ledger.sync_site(small_site())
    for method in ("eth_getTransactionReceipt", "eth_getTransactionCount", "eth_estimateGas", "eth_call"):
        proxy.once(method, "drop")
    proxy.once("eth_sendRawTransaction", "refuse")
    ledger.post_status(StatusReport("CP-2", Status.CHARGING, 1.0, 0.5))
    assert ledger.get_status("CP-2").power_kw == 1.0
    assert len(ledger.status_history("CP-2")) == 1 and sum(proxy.injected.values()) >= 4


def test_500_posts_through_a_faulty_proxy_land_exactly_once(proxy, tmp_path):
    """A tenth of all calls lose their reply or are delayed; every status lands once."""
    ledger = _fast(proxy.url, tmp_path)
    ledger.sync_site(small_site())
    proxy.randomly(0.1, ("drop", "delay"), seed=10)
    posted: list[tuple[str, int]] = []
    for i in range(500):
        report = StatusReport(f"CP-{1 + i % 3}", Status.CHARGING, 1.0, i / 1000)  # energy identifies the post
        if i % 2 == 0:
            ledger.post_status(report)
        else:  # the outbox's way: sign once, settle until final
            write = ledger.sign_statuses([report])
            state = ledger.settle(write)
            while state.state == "pending":
                state = ledger.settle(write)
            assert state.state == "mined"
        posted.append((report.asset_id, i))
    proxy.heal()
    events = ledger.status_history()
    got = sorted((e.asset_id, round(e.energy_kwh * 1000)) for e in events)
    assert got == sorted(posted)  # each of the 500 exactly once
    assert proxy.injected["drop"] > 100 and proxy.injected["delay"] > 100


# -- 2. a node that rolls back --------------------------------------------------------------
def _roll_back(node: AnvilNode, snapshot: Path) -> None:
    """kill -9 the node and restart it from an older state file on the same port."""
    node.proc.kill()
    node.proc.wait()
    shutil.copy(snapshot, node.state_file)
    node.start()


def _snapshot(node: AnvilNode, tmp_path: Path) -> Path:
    time.sleep(2.2)  # --state-interval 1: what was written is in the file now
    snapshot = tmp_path / "snapshot.json"
    shutil.copy(node.state_file, snapshot)
    return snapshot


def test_writes_after_a_rollback_do_not_wait_for_forgotten_nonces(tmp_path):
    node = AnvilNode(tmp_path / "anvil.json", port=free_port()).start()
    try:
        ledger = _fast(node.url, tmp_path / "ev")
        ledger.sync_site(small_site())
        for i in range(5):
            ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, i))
        snapshot = _snapshot(node, tmp_path)
        for i in range(5):
            ledger.post_status(StatusReport("CP-2", Status.CHARGING, 2.0, i))
        _roll_back(node, snapshot)
        assert ledger.get_status("CP-2") is None  # the node went back

        done: list[object] = []
        worker = threading.Thread(
            target=lambda: done.append(ledger.post_status(StatusReport("CP-3", Status.CHARGING, 3.0, 0))), daemon=True
        )
        worker.start()
        worker.join(20)
        assert done, "a write after the rollback must not wait for nonces the node forgot"
        assert ledger.get_status("CP-3").power_kw == 3.0
        ledger.post_statuses([StatusReport("CP-1", Status.CHARGING, 1.5, 9)])
        assert len(ledger.status_history("CP-1")) == 6
    finally:
        node.stop()


def test_rolled_back_writes_are_known_as_not_done_and_sent_again(tmp_path):
    node = AnvilNode(tmp_path / "anvil.json", port=free_port()).start()
    try:
        ledger = _fast(node.url, tmp_path / "ev")
        ledger.sync_site(small_site())
        snapshot = _snapshot(node, tmp_path)
        kept_head = ledger.head()
        writes = [ledger.sign_statuses([StatusReport("CP-2", Status.CHARGING, 2.0, 10 + i)]) for i in range(5)]
        blocks = [final(ledger, w).receipt.block_number for w in writes]
        assert min(blocks) > kept_head
        _roll_back(node, snapshot)
        assert ledger.head() == kept_head < min(blocks)  # what the outbox checks: a rollback
        assert ledger.get_status("CP-2") is None
        ledger.post_status(StatusReport("CP-3", Status.CHARGING, 3.0, 0))  # takes the first forgotten nonce

        redone = 0
        for i, w in enumerate(writes):  # the outbox settles again what the rollback took
            state = ledger.settle(w)
            while state.state == "pending":
                state = ledger.settle(w)
            if state.state == "dropped":  # its nonce went to the post above: sign the intent again
                state = final(ledger, ledger.sign_statuses([StatusReport("CP-2", Status.CHARGING, 2.0, 10 + i)]))
                redone += 1
            assert state.state == "mined"
        assert redone >= 1
        energies = sorted(e.energy_kwh for e in ledger.status_history("CP-2"))
        assert energies == [10, 11, 12, 13, 14]  # each once
    finally:
        node.stop()


def test_the_live_site_outbox_posts_again_what_a_rollback_took(tmp_path):
    """The outbox itself (not a hand-written loop): statuses mined, then lost by the node's
    rollback, are posted again, each once, including the batches whose nonce another write took."""
    from datetime import datetime, timezone

    from engine.runtime.journal import Journal
    from engine.runtime.telemetry import Outbox

    node = AnvilNode(tmp_path / "anvil.json", port=free_port()).start()
    journal = Journal(tmp_path / "site")
    try:
        ledger = _fast(node.url, tmp_path / "ev")
        ledger.sync_site(small_site())
        snapshot = _snapshot(node, tmp_path)
        outbox = Outbox(journal, ledger)
        now = datetime(2026, 5, 6, 15, 0, tzinfo=timezone.utc)
        for i in range(5):  # five batches, five nonces, each mined before the next is queued
            journal.enqueue(now, [StatusReport("CP-2", Status.CHARGING, 2.0, 10 + i)])
            posted = outbox.flush(now).posted
            for _ in range(100):  # a batch may still be in flight when flush returns (a busy node)
                if not journal.unsettled():
                    break
                time.sleep(0.05)
                posted += outbox.flush(now).posted
            assert posted == 1 and not journal.unsettled()
        _roll_back(node, snapshot)
        assert ledger.get_status("CP-2") is None  # the node forgot all five
        ledger.post_status(StatusReport("CP-3", Status.CHARGING, 3.0, 0))  # takes the first forgotten nonce

        res = outbox.flush(now)
        assert res.rollback  # the outbox saw the head fall below what it had mined
        for _ in range(100):  # the runtime flushes on every tick
            if not (res.pending or journal.unsettled()):
                break
            time.sleep(0.05)
            res = outbox.flush(now)
        assert res.error is None and journal.outbox_stats()["in_flight"] == 0, res
        energies = sorted(e.energy_kwh for e in ledger.status_history("CP-2"))
        assert energies == [10, 11, 12, 13, 14]  # each once, after the rollback
        assert journal.outbox_stats()["pending"] == 0
    finally:
        journal.close()
        node.stop()


# -- 3. a hanging node ----------------------------------------------------------------------
def test_connect_to_a_hanging_node_fails_fast_and_retries_cheaply(tmp_path):
    with HangingListener() as hung:
        t0 = time.monotonic()
        with pytest.raises(ChainUnavailable) as err:
            Ledger.connect(hung.url, state_dir=tmp_path)
        assert time.monotonic() - t0 < 10
        assert hung.url in str(err.value)


def test_a_node_that_hangs_never_blocks_a_caller_long_and_is_used_again_when_it_answers(proxy, tmp_path):
    ledger = _fast(proxy.url, tmp_path)
    ledger.sync_site(small_site())
    ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0))
    proxy.mode = "hang"
    took: dict[str, float] = {}
    errors: dict[str, BaseException] = {}

    def timed(name: str, fn) -> None:
        t0 = time.monotonic()
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - collected for the asserts
            errors[name] = exc
        took[name] = time.monotonic() - t0

    calls = {
        "post_status": lambda: ledger.post_status(StatusReport("CP-1", Status.CHARGING, 2.0, 0)),
        "post_status 2": lambda: ledger.post_status(StatusReport("CP-2", Status.CHARGING, 2.0, 0)),
        "set_threshold": lambda: ledger.set_threshold("C-A", 17),
        "get_status": lambda: ledger.get_status("CP-1"),
        "sign_statuses": lambda: ledger.sign_statuses([StatusReport("CP-3", Status.CHARGING, 2.0, 0)]),
        "sign_statuses 2": lambda: ledger.sign_statuses([StatusReport("CP-2", Status.CHARGING, 2.0, 0)]),
        "head": lambda: ledger.head(),
        "connect": lambda: Ledger.connect(proxy.url, state_dir=tmp_path),
    }
    threads = [threading.Thread(target=timed, args=(n, f)) for n, f in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(took) == set(calls)
    assert max(took.values()) < 10, took
    assert set(errors) == set(calls) and all(isinstance(e, ChainUnavailable) for e in errors.values()), errors
    assert ledger.ping() is False

    proxy.heal()
    assert ledger.ping()
    again = Ledger.connect(proxy.url, state_dir=tmp_path)  # connecting again works at once
    assert not again.deployed_now
    ledger.post_status(StatusReport("CP-1", Status.CHARGING, 4.0, 0))  # not jammed by what hung
    assert ledger.get_status("CP-1").power_kw == 4.0


def test_the_app_chain_service_never_holds_a_page_long_on_a_hanging_node(proxy, tmp_path):
    """What a page asks (statuses, registration, ping) while the node hangs: one short wait at most
    (the cockpit's render used to wait 7 s for the statuses and 2 s more per ping), then unknown at
    once; read again as soon as the outbox thread hears the node."""
    site = small_site()
    svc = ChainService(lambda: site, tmp_path, retry_s=60, connect=lambda: _fast(proxy.url, tmp_path))
    assert svc.ensure_synced()
    svc.ledger.post_status(StatusReport("CP-1", Status.CHARGING, 2.5, 1.0))
    assert svc.statuses(["CP-1"])["CP-1"].power_kw == 2.5 and svc.ping()

    proxy.mode = "hang"
    t0 = time.monotonic()
    assert svc.statuses(["CP-1", "CP-2"]) == {}
    first = time.monotonic() - t0
    assert first < 3.0, first  # one read budget (2 s), not a node call's 7 s
    t1 = time.monotonic()
    assert svc.ping() is False and svc.statuses(["CP-1"]) == {}
    svc.registration("CP-1")  # from what the service knows, or unknown: never a wait
    assert not svc.ping()
    then = time.monotonic() - t1
    assert then < 0.5, then  # known silent: no page waits again

    proxy.heal()
    assert svc.head() > 0  # the outbox thread hears the node again
    assert svc.ping() and svc.statuses(["CP-1"])["CP-1"].power_kw == 2.5
    assert svc.registration("CP-1").tx_hash


def test_the_app_chain_service_connects_again_once_the_node_answers(proxy, tmp_path):
    """A failed connection is kept only ``retry_s`` (the app's cached service is not stuck with it)."""
    site = small_site()
    svc = ChainService(lambda: site, tmp_path, retry_s=0.5,
                       connect=lambda: Ledger.connect(proxy.url, state_dir=tmp_path, backoff_s=0.01, call_budget_s=2))
    proxy.mode = "hang"
    t0 = time.monotonic()
    assert svc.connect() is None and proxy.url in svc.error
    assert time.monotonic() - t0 < 10
    assert svc.connect() is None  # within retry_s: not asked again
    proxy.heal()
    time.sleep(0.6)
    assert svc.connect() is not None and svc.error is None
    assert svc.ensure_synced() and svc.ping()


# -- 4. two clients, one key ----------------------------------------------------------------
def test_two_clients_with_one_key_in_one_process_share_a_signer(anvil_node, tmp_path):
    a = _fast(anvil_node.url, tmp_path)
    b = _fast(anvil_node.url, tmp_path)
    a.sync_site(small_site(n_cp=4))
    errors: list[BaseException] = []

    def work(ledger: Ledger, cp: str) -> None:
        try:
            for j in range(8):
                ledger.post_status(StatusReport(cp, Status.CHARGING, 1.0, j))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(lg, f"CP-{i}")) for i, lg in enumerate((a, b, a, b), start=1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(a.status_history()) == 32


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from contracts.ledger import Ledger
from engine.ledger import Status, StatusReport
ledger = Ledger.connect({url!r}, state_dir={state!r})
ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.5))
print("writing", flush=True)
sys.stdin.readline()
"""


def test_a_second_process_with_the_same_key_is_refused(anvil_node, tmp_path):
    ledger = _fast(anvil_node.url, tmp_path)
    ledger.sync_site(small_site())
    ledger.close()  # this process lets the key go: the child takes it
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), url=anvil_node.url, state=str(tmp_path))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "writing"
        other = _fast(anvil_node.url, tmp_path)
        assert other.get_status("CP-1").energy_kwh == 0.5  # reading is fine
        with pytest.raises(WriterBusy, match=f"pid {child.pid}"):
            other.post_status(StatusReport("CP-2", Status.CHARGING, 1.0, 0))
        with pytest.raises(WriterBusy):
            other.sign_statuses([StatusReport("CP-2", Status.CHARGING, 1.0, 0)])
    finally:
        child.communicate("\n", timeout=30)
    other.post_status(StatusReport("CP-2", Status.CHARGING, 1.0, 0))  # the key is free again
    assert other.get_status("CP-2").power_kw == 1.0
