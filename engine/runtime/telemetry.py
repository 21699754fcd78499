"""Telemetry: which statuses go to SC2, and the outbox that posts them exactly once.

What is queued (:func:`status_changes`): an asset's status when it changes, when its power
moves by more than ``DEADBAND_KW``, and at least every ``HEARTBEAT`` while its power or energy
changes; the first status of every asset once. Every meter reading stays in the journal, so
the chain carries the site's story at a fraction of the gas of a reading every step.

How it is posted (:class:`Outbox`): the oldest queued statuses, up to 64, are signed as one SC2
``update_batch``; the signed transaction (its hash is known before sending) is written to the
journal *before* it is first sent, then settled: mined -> its rows are done; pending -> asked
again next time (same bytes, same hash: never a second transaction for the same rows);
dropped (its nonce went to another transaction) -> its rows go back to the queue; a node that
does not answer -> everything waits, in order, and goes out once it answers again. One batch is
in flight at a time, so statuses reach the chain in the order they were queued. After a node
rolls back, the batches it lost are settled again: re-broadcast as they were, or queued again if
their nonce went elsewhere. A rollback is found by the newest mined batch, not by the head alone
(other writes, or a network's new blocks, soon bring the head back above it): every flush asks
the node for that batch's receipt; when it is gone or in another block, the batches before it
are asked in turn, newest first, until one is still where it was mined.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from engine.ledger import LedgerError, LedgerPort, StatusReport
from engine.runtime.journal import Journal, OutboxRow

__all__ = ["DEADBAND_KW", "HEARTBEAT", "BATCH", "status_changes", "Outbox", "FlushResult"]

DEADBAND_KW = 0.5
HEARTBEAT = timedelta(minutes=15)
BATCH = 64


def status_changes(now: datetime, current: Mapping[str, StatusReport],
                   last: Mapping[str, OutboxRow]) -> list[StatusReport]:
    """The statuses to queue at ``now``.

    Parameters
    ----------
    now : datetime
    current : mapping
        Asset id -> its status now.
    last : mapping
        Asset id -> the last status queued for it.
    """
    out = []
    for aid, r in current.items():
        prev = last.get(aid)
        if prev is None:
            out.append(r)
            continue
        p = prev.report
        if p.status != r.status or abs(p.power_kw - r.power_kw) > DEADBAND_KW:
            out.append(r)
        elif now - prev.at >= HEARTBEAT and (abs(p.power_kw - r.power_kw) > 1e-3 or abs(p.energy_kwh - r.energy_kwh) > 1e-3):
            out.append(r)
    return out


@dataclass
class FlushResult:
    """What one flush did: statuses posted, still queued, and the error if the chain failed."""

    posted: int = 0
    pending: int = 0
    batches: int = 0
    error: str | None = None
    rollback: bool = False


class Outbox:
    """The journal's outbox, posted through a ledger.

    Parameters
    ----------
    journal : Journal
    ledger : LedgerPort or None
        None: statuses only accumulate (no chain).
    """

    def __init__(self, journal: Journal, ledger: LedgerPort | None) -> None:
        self.journal = journal
        self.ledger = ledger
        self.last_error: str | None = None

    def flush(self, now: datetime, *, max_batches: int = 1000, budget_s: float = 30.0) -> FlushResult:
        """Settle what is in flight, then post queued statuses in order (bounded by ``budget_s``)."""
        res = FlushResult()
        if self.ledger is None:
            res.pending = self.journal.pending_count()
            return res
        t_end = time.monotonic() + budget_s
        j = self.journal
        try:
            self._recheck_mined(now, res)
            for bid, w in j.unsettled():
                if not self._settle(bid, w, now, res):
                    res.pending = j.pending_count()
                    return res
            while res.batches < max_batches and time.monotonic() < t_end:
                rows = j.pending(BATCH)
                if not rows:
                    break
                w = self.ledger.sign_statuses([r.report for r in rows])
                bid = j.attach_batch([r.id for r in rows], w, now)
                res.batches += 1
                if not self._settle(bid, w, now, res):
                    break
            self.last_error = None
        except LedgerError as exc:
            res.error = str(exc) or type(exc).__name__
            self.last_error = res.error
        res.pending = j.pending_count()
        return res

    def _recheck_mined(self, now: datetime, res: FlushResult) -> None:
        """Find what a rollback took: the mined batches, newest first, until one is still where it
        was mined. Those above the head are set pending (settled again below, in nonce order);
        the others are settled again now (mined elsewhere, re-sent, or dropped: queued again)."""
        j = self.journal
        head: int | None = None
        found = j.mined_before()
        while found is not None:
            bid, w, block = found
            if head is None:
                head = self.ledger.head()
            if block > head:
                j.settle_batch(bid, "pending", now)
            else:
                st = self.ledger.settle(w)
                if st.state == "mined" and st.receipt is not None and st.receipt.block_number == block:
                    return  # still on chain: so is every batch before it
                self._record(bid, st, now)
            res.rollback = True
            found = j.mined_before(bid)

    def _record(self, bid: int, st, now: datetime) -> None:
        """Write a settlement of batch ``bid`` to the journal (``dropped`` queues its rows again)."""
        if st.state in ("mined", "reverted"):
            self.journal.settle_batch(bid, st.state, now, st.receipt, st.reason if st.state == "reverted" else None)
        else:
            self.journal.settle_batch(bid, st.state, now)

    def _settle(self, bid: int, w, now: datetime, res: FlushResult) -> bool:
        """Settle one batch; False when it is still pending (stop: one in flight)."""
        st = self.ledger.settle(w)
        self._record(bid, st, now)
        if st.state == "mined":
            res.posted += self._rows_of(bid)
        return st.state != "pending"

    def _rows_of(self, bid: int) -> int:
        return self.journal.batch_rows(bid)
