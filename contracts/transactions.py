"""Writes: sign once, then settle until mined, reverted or dropped.

A write is signed here (its hash is then known) before anything is sent. :func:`settle`
asks the node about that hash first and sends the same raw bytes only when the node does
not know them and the nonce is still free, so a lost reply, a timeout or a crash never
makes a second transaction for one intent:

=========================================  ===========================================
the node ...                                :func:`settle` says
=========================================  ===========================================
has a receipt, status 1                     ``mined`` (receipt)
has a receipt, status 0                     ``reverted`` (the reason, replayed as a call)
has it in its pool                          ``pending``
does not know it, account nonce > its own   ``dropped``: another transaction took the
                                            nonce; sign the intent again
does not know it, nonce free                sends it -> ``mined`` or ``pending``
=========================================  ===========================================

:func:`transact` is the synchronous path the CPO's edits use: check (estimate gas on a
node, a call on the embedded chain), sign, settle until final; a dropped write is signed
again (at most three times).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils.exceptions import ValidationError as _EthValidationError
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from contracts.calls import (
    CONNECTION_ERRORS,
    DEFAULT_TIP_WEI,
    REVERT_ERRORS,
    ChainUnavailable,
    ContractRevert,
    budget,
    remaining,
    revert_reason,
    to_receipt,
)
from contracts.embedded import EmbeddedNode
from contracts.signer import NonceBook, claim_writer_lock
from engine.ledger import LedgerError, Settlement, SignedWrite, TxReceipt

__all__ = ["ChainAccess", "sign", "settle", "transact"]

T = TypeVar("T")

#: Times a synchronous write is signed again after its nonce went to another transaction.
RESIGNS = 3
#: How long the node's suggested priority fee is reused [s] (the base fee is read each time).
TIP_TTL_S = 60.0


class ChainAccess(Protocol):
    """What the write path uses of a :class:`contracts.chain.Chain` (its connection's internals)."""

    w3: Web3
    mode: str  # "embedded" or "rpc"
    rpc_url: str | None
    account: str
    chain_id: int
    node: EmbeddedNode | None
    call_budget_s: float
    backoff_s: float
    receipt_timeout_s: float
    _signer: LocalAccount | None
    _shared: Any  # state shared by the Chains of one connection (here: the cached priority fee)

    def _rpc(self, what: str, fn: Callable[[], T]) -> T: ...

    def _book(self) -> NonceBook: ...

    def _lock_path(self) -> Path: ...


def _fees(chain: ChainAccess) -> dict[str, int]:
    """EIP-1559 fees (2 x base fee + tip), or a legacy gas price on a node without base fee."""
    block = chain._rpc("eth_getBlockByNumber", lambda: chain.w3.eth.get_block("latest"))
    base = block.get("baseFeePerGas")
    if base is None:
        return {"gasPrice": int(chain._rpc("eth_gasPrice", lambda: chain.w3.eth.gas_price))}
    tip = DEFAULT_TIP_WEI
    if chain.mode == "rpc":
        cached = chain._shared.tip
        if cached is not None and time.monotonic() - cached[1] < TIP_TTL_S:
            tip = cached[0]
        else:
            try:
                tip = int(chain._rpc("eth_maxPriorityFeePerGas", lambda: chain.w3.eth.max_priority_fee))
            except Web3RPCError:
                tip = DEFAULT_TIP_WEI
            chain._shared.tip = (tip, time.monotonic())
    return {"maxFeePerGas": 2 * int(base) + tip, "maxPriorityFeePerGas": tip}


def sign(chain: ChainAccess, fn: Any, *, gas: int, action: str = "") -> SignedWrite:
    """Sign ``fn`` (a bound contract call or constructor) with an explicit gas limit.

    The nonce is the node's pending nonce, skipping this process's own unsettled writes;
    the key's writer lock file is taken on the first write (:mod:`contracts.signer`).

    Raises
    ------
    ChainUnavailable
        The node did not answer what signing needs (nothing is then consumed).
    WriterBusy
        Another process writes with this key on this chain.
    """
    if chain._signer is None:
        raise LedgerError(f"{action}: this chain has no signing key")
    book = chain._book()
    if claim_writer_lock(chain._lock_path()) and chain.node is not None:
        chain.node.catch_up()  # another process may have written before it let go
    left = remaining()
    if not book.lock.acquire(timeout=max(0.0, left) if left is not None else chain.call_budget_s):
        raise ChainUnavailable(str(chain.rpc_url), f"{action}: another write with this key is still waiting for the node")
    try:
        pending = chain._rpc(
            "eth_getTransactionCount", lambda: chain.w3.eth.get_transaction_count(chain.account, "pending")
        )
        nonce = book.next_nonce(int(pending))
        params = {"from": chain.account, "nonce": nonce, "gas": int(gas), "chainId": chain.chain_id, **_fees(chain)}
        tx = chain._rpc(f"{action} (build)", lambda: fn.build_transaction(params))
        signed = chain._signer.sign_transaction(tx)
        write = SignedWrite(
            tx_hash=signed.hash.to_0x_hex(),
            raw_tx=signed.raw_transaction.to_0x_hex(),
            nonce=nonce,
            account=chain.account,
            action=action,
        )
        book.track(write)
        return write
    finally:
        book.lock.release()


def settle(chain: ChainAccess, write: SignedWrite, *, fresh: bool = False) -> Settlement:
    """What became of ``write``; sends its raw bytes if the node does not know them.

    Bounded by the chain's call budget; raises :class:`ChainUnavailable` (naming the
    transaction) when the node does not answer, and ``LedgerError`` when it refuses the
    transaction for another reason than its nonce. ``fresh``: signed just now by this
    caller and never sent, so the first attempt sends without looking it up (any later
    attempt, e.g. after a lost reply, looks first).
    """
    if chain.mode == "embedded":
        state = _settle_embedded(chain, write)
    else:
        with budget(chain.call_budget_s):
            delay = chain.backoff_s
            while True:
                try:
                    state = _settle_once(chain, write, fresh=fresh)
                    break
                except CONNECTION_ERRORS as exc:  # e.g. the reply of the send was lost: look again
                    left = remaining()
                    if left is not None and left <= delay + 0.05:
                        raise ChainUnavailable(
                            str(chain.rpc_url),
                            f"{write.action or 'write'}: transaction {write.tx_hash} "
                            f"(outcome unknown: settle it again): {type(exc).__name__}: {exc}",
                        ) from exc
                    fresh = False
                    time.sleep(delay)
                    delay *= 2
    book = chain._book()
    if state.state == "pending":
        book.track(write)
    else:
        book.done(write)
    return state


def _receipt(chain: ChainAccess, tx_hash: str) -> Any | None:
    try:
        return chain._rpc("eth_getTransactionReceipt", lambda: chain.w3.eth.get_transaction_receipt(tx_hash))
    except TransactionNotFound:
        return None


def _known(chain: ChainAccess, tx_hash: str) -> bool:
    try:
        chain._rpc("eth_getTransactionByHash", lambda: chain.w3.eth.get_transaction(tx_hash))
        return True
    except TransactionNotFound:
        return False


def _mined_nonce(chain: ChainAccess, write: SignedWrite) -> int:
    return int(
        chain._rpc("eth_getTransactionCount", lambda: chain.w3.eth.get_transaction_count(write.account, "latest"))
    )


def _settle_once(chain: ChainAccess, write: SignedWrite, *, fresh: bool = False) -> Settlement:
    if not fresh:
        rc = _receipt(chain, write.tx_hash)
        if rc is not None:
            return _final(chain, write, rc)
        if _known(chain, write.tx_hash):
            return Settlement("pending")
        if _mined_nonce(chain, write) > write.nonce:
            return _mined_or_dropped(chain, write)
    try:  # not through _rpc: a lost reply goes back to the look-up above, never straight to a resend
        chain.w3.eth.send_raw_transaction(write.raw_tx)
    except (Web3RPCError, ValueError) as exc:
        text = str(exc).lower()
        if any(s in text for s in ("already known", "known transaction", "already imported")):
            return Settlement("pending")
        if "nonce too low" in text or "nonce has already been used" in text:
            return _mined_or_dropped(chain, write)
        if "underpriced" in text:
            return Settlement("pending", reason=f"nonce {write.nonce} is held by another pending transaction")
        raise LedgerError(f"{write.action or 'write'}: node refused transaction {write.tx_hash}: {exc}") from None
    rc = _receipt(chain, write.tx_hash)
    return _final(chain, write, rc) if rc is not None else Settlement("pending")


def _mined_or_dropped(chain: ChainAccess, write: SignedWrite) -> Settlement:
    rc = _receipt(chain, write.tx_hash)  # mined between the two look-ups?
    if rc is not None:
        return _final(chain, write, rc)
    return Settlement("dropped", reason=f"nonce {write.nonce} was used by another transaction")


def _settle_embedded(chain: ChainAccess, write: SignedWrite) -> Settlement:
    node = chain.node
    assert node is not None
    with node.lock:
        if write.tx_hash in node.mined:
            return _final(chain, write, chain.w3.eth.get_transaction_receipt(write.tx_hash))
        mined = int(chain.w3.eth.get_transaction_count(write.account))
        if mined > write.nonce:
            return Settlement("dropped", reason=f"nonce {write.nonce} was used by another transaction")
        if mined < write.nonce:
            return Settlement("pending", reason=f"waits for nonce {mined} to be mined")
        try:
            rc = node.send_raw(write.raw_tx)
        except (_EthValidationError, ValueError) as exc:
            raise LedgerError(f"{write.action or 'write'}: transaction {write.tx_hash} refused: {exc}") from None
        return _final(chain, write, rc)


def _final(chain: ChainAccess, write: SignedWrite, rc: Any) -> Settlement:
    if int(rc["status"]) == 1:
        return Settlement("mined", receipt=to_receipt(rc))
    return Settlement("reverted", receipt=to_receipt(rc), reason=_failure_reason(chain, rc))


def _failure_reason(chain: ChainAccess, rc: Any) -> str:
    """Why a mined transaction failed: replayed as a call on the state before its block."""
    try:
        tx = chain._rpc("eth_getTransactionByHash", lambda: chain.w3.eth.get_transaction(rc["transactionHash"]))
    except Exception:  # noqa: BLE001 - best effort only
        return "transaction failed (reason unavailable)"
    call = {"from": tx["from"], "data": tx["input"], "gas": tx["gas"], "value": tx.get("value", 0)}
    if tx.get("to"):
        call["to"] = tx["to"]
    try:
        block = max(int(rc["blockNumber"]) - 1, 0)
        chain._rpc("eth_call (reason)", lambda: chain.w3.eth.call(call, block_identifier=block))
    except REVERT_ERRORS as exc:
        reason = revert_reason(exc)
        if reason:
            return reason
    except Exception:  # noqa: BLE001 - best effort only
        pass
    if int(rc["gasUsed"]) >= int(tx["gas"]) > 0:
        return f"out of gas (limit {int(tx['gas'])})"
    return "transaction failed (reason unavailable)"


def _gas_limit(chain: ChainAccess, fn: Any, gas: int | None, action: str) -> int:
    """Check ``fn`` before signing (a revert raises with its reason) and choose its gas limit.

    Embedded: a call (eth-tester's estimation is slow) and ``gas`` as given. Node: the
    estimate (which also reports a revert's reason) + 25 % + 10,000, or ``gas`` if larger:
    the estimate runs in a block with the latest timestamp, where rewriting an unchanged
    status word is a cheap no-op SSTORE, so the hint covers the real cost.
    """
    try:
        if chain.mode == "embedded":
            if hasattr(fn, "call"):
                chain._rpc(f"{action} (check)", lambda: fn.call({"from": chain.account}))
            if gas is not None:
                return int(gas)
        est = chain._rpc(f"{action} (estimate gas)", lambda: fn.estimate_gas({"from": chain.account}))
    except REVERT_ERRORS as exc:
        raise ContractRevert(revert_reason(exc), action=action) from None
    return max(int(est * 1.25) + 10_000, gas or 0)


def transact(chain: ChainAccess, fn: Any, *, gas: int | None = None, action: str = "") -> TxReceipt:
    """Send one contract transaction and wait until it is mined.

    Parameters
    ----------
    chain : ChainAccess
    fn : ContractFunction or ContractConstructor
        The bound call, e.g. ``registry.functions.set_threshold(key, 16600)``.
    gas : int, optional
        Gas limit (embedded: used as given; node: the floor under the estimate).
    action : str
        Label for error messages.

    Raises
    ------
    ContractRevert
        The contract reverted (reason attached).
    ChainUnavailable
        The node did not answer within the call budget (the message names the
        transaction when it was signed: its outcome is then unknown).
    """
    for _ in range(RESIGNS):
        with budget(chain.call_budget_s):
            limit = _gas_limit(chain, fn, gas, action)
            write = sign(chain, fn, gas=limit, action=action)
            for earlier in chain._book().lower(write.nonce):  # own writes signed before, maybe never sent
                settle(chain, earlier)
            state = settle(chain, write, fresh=True)
        deadline = time.monotonic() + chain.receipt_timeout_s
        poll = 0.02
        while state.state == "pending":
            if time.monotonic() > deadline:
                raise LedgerError(
                    f"{action}: transaction {write.tx_hash} not mined within {chain.receipt_timeout_s:g} s"
                    + (f" ({state.reason})" if state.reason else "")
                )
            time.sleep(poll)
            poll = min(1.0, poll * 2)
            state = settle(chain, write)
        if state.state == "mined":
            assert state.receipt is not None
            return state.receipt
        if state.state == "reverted":
            raise ContractRevert(state.reason, action=action, tx_hash=write.tx_hash)
    raise LedgerError(f"{action}: the nonce went to another transaction {RESIGNS} times; is another client using this key?")
