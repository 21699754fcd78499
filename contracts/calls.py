"""What every node call shares: its time budget, its errors and their reasons.

:func:`budget` bounds every node call inside it (HTTP timeouts and retries included);
:class:`ChainUnavailable` says a node did not answer in time, :class:`ContractRevert` that
a contract refused, with its reason string whichever backend raised it (eth-tester's
``TransactionFailed``, web3's ``ContractLogicError``, or a mined receipt with status 0).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from web3.exceptions import ContractLogicError, ProviderConnectionError, TimeExhausted

from engine.ledger import LedgerError, TxReceipt

__all__ = [
    "CALL_BUDGET_S",
    "CONNECTION_ERRORS",
    "DEFAULT_TIP_WEI",
    "REQUEST_TIMEOUT_S",
    "REVERT_ERRORS",
    "ChainUnavailable",
    "ContractRevert",
    "budget",
    "remaining",
    "revert_reason",
    "to_receipt",
]

#: Longest a node call (with its retries) or a write's signing + first send may take [s].
CALL_BUDGET_S = 7.0
#: Longest one HTTP request may wait for the node [s].
REQUEST_TIMEOUT_S = 3.0
#: Priority fee when the node does not say [wei].
DEFAULT_TIP_WEI = 1_000_000_000

try:  # eth-tester is optional for the rpc mode
    from eth_tester.exceptions import TransactionFailed as _TesterFailed
except ImportError:  # pragma: no cover - eth-tester is pinned in requirements
    _TesterFailed = ()  # type: ignore[assignment,misc]

REVERT_ERRORS: tuple[type[BaseException], ...] = (ContractLogicError,) + (
    (_TesterFailed,) if isinstance(_TesterFailed, type) else ()
)


class ContractRevert(LedgerError):
    """A contract call or transaction reverted; ``reason`` is the contract's reason string."""

    def __init__(self, reason: str | None, *, action: str = "", tx_hash: str | None = None) -> None:
        text = reason or "reverted without a reason"
        super().__init__(f"{action + ': ' if action else ''}{text}", reason=reason)
        self.tx_hash = tx_hash
        self.action = action


class ChainUnavailable(LedgerError):
    """The JSON-RPC node cannot be reached; ``url`` names it."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"chain node at {url} is unreachable: {detail}")
        self.url = url


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, ProviderConnectionError, TimeoutError, TimeExhausted)
try:
    import requests

    CONNECTION_ERRORS += (requests.exceptions.RequestException,)
except ImportError:  # pragma: no cover
    pass


def revert_reason(exc: BaseException) -> str | None:
    """The contract's reason string inside a backend's revert exception (None if absent)."""
    text = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else str(exc))
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = str(text).strip().strip("'\"")
    for prefix in ("execution reverted: ", "execution reverted:", "VM Exception while processing transaction: revert "):
        if text.startswith(prefix):
            return text[len(prefix):].strip() or None
    if text in ("execution reverted", ""):
        return None
    return text


def to_receipt(receipt: Any) -> TxReceipt:
    """The engine's :class:`TxReceipt` from a web3 receipt."""
    tx_hash = receipt["transactionHash"]
    return TxReceipt(
        tx_hash=tx_hash.to_0x_hex() if hasattr(tx_hash, "to_0x_hex") else str(tx_hash),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
    )


# -- deadlines ------------------------------------------------------------------------------
_LOCAL = threading.local()


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Bound every node call inside to ``seconds`` in all (a nested budget never extends it)."""
    outer = getattr(_LOCAL, "deadline", None)
    mine = time.monotonic() + float(seconds)
    _LOCAL.deadline = mine if outer is None else min(outer, mine)
    try:
        yield
    finally:
        _LOCAL.deadline = outer


def remaining() -> float | None:
    deadline = getattr(_LOCAL, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


