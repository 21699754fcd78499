"""A ledger double implementing the engine's ledger port in memory (for runtime tests).

It signs "transactions" with a counter nonce, mines them on ``settle`` unless it is down, and
records every status it mined, so tests can count what reached the "chain" and how often.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from engine.ledger import LedgerError, Settlement, SignedWrite, StatusReport, TxReceipt


@dataclass
class FakeLedger:
    down: bool = False
    drop_replies: int = 0  # the next N settle calls mine but lose the reply (raise)
    nonce: int = 0
    block: int = 0
    mined: dict[str, tuple[int, list[StatusReport]]] = field(default_factory=dict)
    signed: dict[str, list[StatusReport]] = field(default_factory=dict)
    events: list[StatusReport] = field(default_factory=list)

    def _check(self) -> None:
        if self.down:
            raise LedgerError("chain does not answer (fake outage)")

    def sign_statuses(self, reports):
        self._check()
        reports = list(reports)
        assert 0 < len(reports) <= 64
        h = "0x" + hashlib.sha256(f"{self.nonce}:{reports!r}".encode()).hexdigest()
        w = SignedWrite(h, "0x00", self.nonce, "0xfake", "update_batch")
        self.nonce += 1
        self.signed[h] = reports
        return w

    def settle(self, w: SignedWrite) -> Settlement:
        self._check()
        if w.tx_hash not in self.mined:
            self.block += 1
            self.mined[w.tx_hash] = (self.block, self.signed[w.tx_hash])
            self.events.extend(self.signed[w.tx_hash])
            if self.drop_replies:
                self.drop_replies -= 1
                raise LedgerError("reply lost (fake)")
        blk, reps = self.mined[w.tx_hash]
        return Settlement("mined", TxReceipt(w.tx_hash, blk, 21000 + 13000 * len(reps)))

    def head(self) -> int:
        self._check()
        return self.block
