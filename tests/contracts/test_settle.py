"""The ledger port's exactly-once posting: sign_statuses, settle, head (eth-tester and anvil)."""

from __future__ import annotations

import time

import pytest

from contracts.ledger import BATCH_SIZE, LedgerInputError
from engine.ledger import Settlement, SignedWrite, Status, StatusReport
from tests.contracts.conftest import small_site


def final(ledger, write, tries: int = 100):
    """Settle until the write is no longer pending (anvil may mine a moment after the send)."""
    state = ledger.settle(write)
    for _ in range(tries):
        if state.state != "pending":
            break
        time.sleep(0.05)
        state = ledger.settle(write)
    return state


def _reports(power: float = 1.5) -> list[StatusReport]:
    return [StatusReport(f"CP-{i}", Status.CHARGING, power + i / 10, i) for i in (1, 2, 3)]


def test_signed_write_is_known_before_it_is_sent_and_settles_once(ledger):
    ledger.sync_site(small_site())
    before = ledger.head()
    write = ledger.sign_statuses(_reports())
    assert isinstance(write, SignedWrite)
    assert write.tx_hash.startswith("0x") and len(write.tx_hash) == 66 and write.raw_tx.startswith("0x")
    assert write.account == ledger.account and write.action == "update_batch"
    assert ledger.get_status("CP-1") is None and ledger.head() == before  # nothing sent yet
    first = final(ledger, write)
    assert isinstance(first, Settlement) and first.state == "mined"
    assert first.receipt.tx_hash == write.tx_hash and first.receipt.block_number == before + 1
    assert ledger.head() == first.receipt.block_number
    again = ledger.settle(write)  # a second settle finds it: nothing is sent twice
    assert again.state == "mined" and again.receipt == first.receipt
    assert ledger.head() == first.receipt.block_number
    assert ledger.get_status("CP-2").power_kw == 1.7
    history = ledger.status_history()
    assert len(history) == 3 and {h.tx_hash for h in history} == {write.tx_hash}


def test_writes_signed_ahead_take_consecutive_nonces_and_settle_in_any_order(ledger):
    ledger.sync_site(small_site())
    w1 = ledger.sign_statuses(_reports(1.0))
    w2 = ledger.sign_statuses(_reports(2.0))
    assert w2.nonce == w1.nonce + 1 and w1.tx_hash != w2.tx_hash
    early = ledger.settle(w2)  # its nonce is not reachable yet
    assert early.state == "pending"
    assert final(ledger, w1).state == "mined"
    assert final(ledger, w2).state == "mined"
    assert ledger.get_status("CP-1").power_kw == 2.1
    assert len(ledger.status_history()) == 6


def test_a_write_whose_nonce_went_elsewhere_is_dropped(ledger):
    ledger.sync_site(small_site())
    lost = ledger.sign_statuses(_reports(1.0))
    ledger.chain._book().done(lost)  # as if another signer never heard of it
    ledger.post_status(StatusReport("CP-3", Status.CHARGING, 3.0, 0))  # takes the same nonce
    state = ledger.settle(lost)
    assert state.state == "dropped" and state.receipt is None and str(lost.nonce) in state.reason
    assert ledger.get_status("CP-1") is None  # never mined
    assert len(ledger.status_history()) == 1


def test_a_reverted_write_carries_the_reason(ledger):
    ledger.sync_site(small_site())
    bad = ledger.sign_statuses([StatusReport("CP-1", Status.CHARGING, 6.7, 0)])  # rated 6.6 kW
    state = final(ledger, bad)
    assert state.state == "reverted" and state.reason == "board: power exceeds rating"
    assert state.receipt is not None and state.receipt.tx_hash == bad.tx_hash
    assert ledger.settle(bad).state == "reverted"  # never sent again
    ledger.post_status(StatusReport("CP-1", Status.CHARGING, 6.6, 0))  # the next write is not stuck
    assert ledger.get_status("CP-1").power_kw == 6.6


def test_sign_statuses_validates_before_signing(ledger):
    ledger.sync_site(small_site())
    with pytest.raises(LedgerInputError, match=r"^reports"):
        ledger.sign_statuses([])
    with pytest.raises(LedgerInputError, match=r"^reports"):
        ledger.sign_statuses([StatusReport("CP-1", Status.CHARGING, 1, 0)] * (BATCH_SIZE + 1))
    with pytest.raises(LedgerInputError, match=r"^reports\[1\]\.power_kw"):
        ledger.sign_statuses([StatusReport("CP-1", Status.CHARGING, 1, 0), StatusReport("CP-2", Status.CHARGING, -1e7, 0)])
    full = ledger.sign_statuses([StatusReport(f"CP-{1 + i % 3}", Status.CHARGING, 1, i) for i in range(BATCH_SIZE)])
    assert final(ledger, full).state == "mined"
    assert len(ledger.status_history()) == BATCH_SIZE
