"""One web3 connection with one signing key: an embedded chain or a JSON-RPC node.

Two modes, one way of writing:

``embedded``
    In-process py-evm through eth-tester (:mod:`contracts.embedded`), journaled under the
    state folder and replayed on start. Every web3 call runs under the node's lock
    (py-evm is not thread-safe).
``rpc``
    Any EVM JSON-RPC URL (anvil, geth, an L2).

In both, a write is a raw transaction signed here with a local key (eth-tester's
development key in embedded mode), so its hash is known before it is sent
(:meth:`Chain.sign`); :meth:`Chain.settle` finds out what became of it and sends it (the
same bytes) only when the node does not know it and its nonce is still free: a write is
sent at most once per intent, whatever replies were lost. Nonces come from the
process-wide nonce book of the key (:mod:`contracts.signer`).

Every node call is bounded: an HTTP request times out after ``request_timeout_s`` and a
call, with its retries of connection errors (exponential backoff), gives up after
``call_budget_s`` with :class:`ChainUnavailable` naming the URL. A write's signing and
first settlement share one such budget, so a hanging node never holds a caller longer.

Reverts surface as :class:`ContractRevert` carrying the contract's reason string,
whichever backend raised them (eth-tester's ``TransactionFailed``, web3's
``ContractLogicError``, or a mined receipt with status 0).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from contracts import transactions
from contracts.calls import (
    CALL_BUDGET_S,
    CONNECTION_ERRORS,
    REQUEST_TIMEOUT_S,
    REVERT_ERRORS,
    ChainUnavailable,
    ContractRevert,
    budget,
    remaining,
    revert_reason,
)
from contracts.compile import CompiledContract
from contracts.embedded import DEV_KEYS, EmbeddedNode, embedded_node, forget_embedded_node
from contracts.signer import NonceBook, nonce_book, release_writer_lock, writer_lock_path
from contracts.state import chain_dir
from contracts.units import LedgerInputError
from engine.ledger import LedgerError, Settlement, SignedWrite, TxReceipt
from engine.validate import integer

T = TypeVar("T")

__all__ = [
    "ANVIL_DEFAULT_KEY",
    "CALL_BUDGET_S",
    "Chain",
    "ChainUnavailable",
    "ContractRevert",
    "budget",
    "revert_reason",
]

#: anvil's first default account (public knowledge; only ever used for a local anvil URL).
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class _BoundedHTTPProvider(HTTPProvider):
    """An HTTP provider whose request timeout never outlasts the caller's budget."""

    def __init__(self, url: str, request_timeout_s: float) -> None:
        super().__init__(url, exception_retry_configuration=None)
        self.request_timeout_s = float(request_timeout_s)

    def get_request_kwargs(self) -> dict[str, Any]:  # type: ignore[override]
        kwargs = dict(super().get_request_kwargs())
        left = remaining()
        kwargs["timeout"] = self.request_timeout_s if left is None else max(0.05, min(self.request_timeout_s, left))
        return kwargs


class _Shared:
    """What every :class:`Chain` over one connection shares (chain id, embedded node)."""

    def __init__(self, node: EmbeddedNode | None = None) -> None:
        self.node = node
        self.lock = node.lock if node is not None else threading.RLock()
        self.chain_id: int | None = None
        self.genesis: str | None = None
        #: The node's suggested priority fee [wei] and when it was asked (monotonic s).
        self.tip: tuple[int, float] | None = None


class Chain:
    """A web3 connection plus the key that signs.

    Build one with :meth:`embedded` or :meth:`rpc`; :meth:`with_account` gives a sibling
    that shares the connection but signs with another key.

    Parameters
    ----------
    w3 : Web3
    mode : {"embedded", "rpc"}
    rpc_url : str or None
    account : str
        Checksum address that signs.
    signer : LocalAccount or None
        Its local key (None only for a read-only chain).
    retries : int
        Most retries of a node call after a connection error.
    backoff_s : float
        First backoff delay [s]; doubles per retry.
    receipt_timeout_s : float
        How long a write waits to be mined once the node has it [s].
    call_budget_s : float
        Longest a node call with its retries may take [s] (:data:`CALL_BUDGET_S`).
    state_dir : path, optional
        State folder holding the writer lock files (default ``$EV_STATE_DIR``).
    """

    def __init__(
        self,
        w3: Web3,
        mode: str,
        rpc_url: str | None,
        account: str,
        signer: LocalAccount | None,
        *,
        retries: int = 4,
        backoff_s: float = 0.25,
        receipt_timeout_s: float = 120.0,
        call_budget_s: float = CALL_BUDGET_S,
        shared: _Shared | None = None,
        state_dir: str | Path | None = None,
    ) -> None:
        self.w3 = w3
        self.mode = mode
        self.rpc_url = rpc_url
        self.account = Web3.to_checksum_address(account)
        self._signer = signer
        self.retries = retries
        self.backoff_s = backoff_s
        self.receipt_timeout_s = receipt_timeout_s
        self.call_budget_s = call_budget_s
        self._shared = shared or _Shared()
        self.state_dir = state_dir

    # -- construction ---------------------------------------------------------------
    @classmethod
    def embedded(cls, state_dir: str | Path | None = None, *, persist: bool = True) -> "Chain":
        """The process's embedded chain of a state folder, replayed from its journal.

        Parameters
        ----------
        state_dir : path, optional
            State folder (default ``$EV_STATE_DIR``); the journal is
            ``<state>/chain/embedded/chain.jsonl``.
        persist : bool
            False: a fresh chain kept in memory only.
        """
        node = embedded_node(chain_dir(state_dir) if persist else None)
        key = Account.from_key(DEV_KEYS[0])
        return cls(node.w3, "embedded", None, key.address, key, shared=_Shared(node), state_dir=state_dir)

    @classmethod
    def rpc(
        cls,
        url: str,
        private_key: str,
        *,
        retries: int = 4,
        backoff_s: float = 0.25,
        timeout_s: float = REQUEST_TIMEOUT_S,
        receipt_timeout_s: float = 120.0,
        call_budget_s: float = CALL_BUDGET_S,
        state_dir: str | Path | None = None,
    ) -> "Chain":
        """Connect to a JSON-RPC node; raise :class:`ChainUnavailable` if it does not answer.

        Parameters
        ----------
        url : str
            ``http(s)://`` URL of the node.
        private_key : str
            0x-hex key of the sending account.
        retries, backoff_s : int, float
            Connection retries and first backoff delay [s].
        timeout_s : float
            HTTP request timeout [s].
        call_budget_s : float
            Longest one call with its retries may take [s].
        """
        if not url.startswith(("http://", "https://")):
            raise LedgerError(f"CHAIN_RPC_URL: only http(s) URLs are supported, got {url!r}")
        try:
            signer: LocalAccount = Account.from_key(private_key)
        except Exception as exc:  # noqa: BLE001 - any malformed key
            raise LedgerError(f"CHAIN_PRIVATE_KEY: not a valid private key ({type(exc).__name__})") from None
        w3 = Web3(_BoundedHTTPProvider(url, timeout_s))
        for name in ("validation", "ens_name_to_address"):  # each asks the node (chain id) per call
            w3.middleware_onion.remove(name)
        chain = cls(
            w3,
            "rpc",
            url,
            signer.address,
            signer,
            retries=retries,
            backoff_s=backoff_s,
            receipt_timeout_s=receipt_timeout_s,
            call_budget_s=call_budget_s,
            state_dir=state_dir,
        )
        chain.chain_id  # noqa: B018 - fail fast, naming the URL
        return chain

    def with_account(self, key_or_address: str) -> "Chain":
        """A sibling chain signing with another key.

        Parameters
        ----------
        key_or_address : str
            A private key; in embedded mode also the address of one of eth-tester's
            development accounts.
        """
        if len(key_or_address) == 42:
            if self.mode == "rpc":
                raise LedgerError("account: rpc mode needs a private key, not an address")
            keys = {Account.from_key(k).address.lower(): k for k in DEV_KEYS}
            if key_or_address.lower() not in keys:
                raise LedgerError(f"account: {key_or_address} is not a development account of the embedded chain")
            key_or_address = keys[key_or_address.lower()]
        signer = Account.from_key(key_or_address)
        return Chain(
            self.w3,
            self.mode,
            self.rpc_url,
            signer.address,
            signer,
            retries=self.retries,
            backoff_s=self.backoff_s,
            receipt_timeout_s=self.receipt_timeout_s,
            call_budget_s=self.call_budget_s,
            shared=self._shared,
            state_dir=self.state_dir,
        )

    def close(self) -> None:
        """Give up this process's writer lock and (embedded) its chain of the state folder.

        The next :meth:`embedded` on the same folder replays the journal, as after a restart.
        """
        if self._shared.chain_id is not None:
            release_writer_lock(self._lock_path())
        if self.mode == "embedded" and self._shared.node is not None and self._shared.node.journal is not None:
            self._shared.node.close()  # a Ledger still holding it must not append to the journal
            forget_embedded_node(chain_dir(self.state_dir))

    # -- plumbing -------------------------------------------------------------------
    @property
    def lock(self) -> threading.RLock:
        """Embedded: the lock every call runs under; rpc: this key's signing lock."""
        if self.mode == "embedded":
            return self._shared.lock
        return self._book().lock

    @property
    def node(self) -> EmbeddedNode | None:
        """The embedded chain (None in rpc mode)."""
        return self._shared.node

    def _rpc(self, what: str, fn: Callable[[], T]) -> T:
        """Run a node request within the call budget, retrying connection errors."""
        if self.mode == "embedded":
            with self.lock:
                return fn()
        with budget(self.call_budget_s):
            delay = self.backoff_s
            attempt = 0
            while True:
                try:
                    return fn()
                except CONNECTION_ERRORS as exc:
                    left = remaining()
                    if attempt >= self.retries or (left is not None and left <= delay + 0.05):
                        raise ChainUnavailable(str(self.rpc_url), f"{what}: {type(exc).__name__}: {exc}") from exc
                    time.sleep(delay)
                    delay *= 2
                    attempt += 1

    @property
    def chain_id(self) -> int:
        """The node's chain id (asked once)."""
        if self._shared.chain_id is None:
            self._shared.chain_id = int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))
        return self._shared.chain_id

    def _book(self) -> NonceBook:
        """This key's process-wide nonce book on this chain."""
        if self._shared.genesis is None:
            if self.mode == "embedded":
                self._shared.genesis = f"embedded:{id(self._shared.node)}"
            else:
                try:
                    block0 = self._rpc("eth_getBlockByNumber(0)", lambda: self.w3.eth.get_block(0))
                    self._shared.genesis = Web3.to_hex(block0["hash"])
                except ChainUnavailable:
                    raise
                except Exception:  # noqa: BLE001 - a node without block 0: fall back to its URL
                    self._shared.genesis = str(self.rpc_url)
        return nonce_book((self.chain_id, self._shared.genesis), self.account)

    def _lock_path(self) -> Path:
        return writer_lock_path(chain_dir(self.state_dir), self.chain_id, self.account)

    def ping(self, timeout_s: float = 2.0) -> bool:
        """Whether the node answers one request within ``timeout_s`` [s] (no retries)."""
        try:
            if self.mode == "embedded":
                with self.lock:
                    self.w3.eth.block_number
                return True
            with budget(timeout_s):
                self.w3.eth.block_number
            return True
        except Exception:  # noqa: BLE001 - any failure means "does not answer"
            return False

    def block_number(self) -> int:
        """The latest block number."""
        return int(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

    def head_timestamp(self) -> int:
        """The latest block's timestamp [s since epoch]."""
        return int(self._rpc("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest")["timestamp"]))

    def code_at(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty if none)."""
        return bytes(self._rpc("eth_getCode", lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))))

    def contract(self, compiled: CompiledContract, address: str) -> Contract:
        """A web3 contract object bound to ``address``."""
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=compiled.abi)

    def call(self, fn: Any, action: str = "") -> Any:
        """Run a view function; a revert raises :class:`ContractRevert`."""
        try:
            return self._rpc(action or "eth_call", lambda: fn.call({"from": self.account}))
        except REVERT_ERRORS as exc:
            raise ContractRevert(revert_reason(exc), action=action) from None

    def get_logs(
        self,
        event: Any,
        *,
        argument_filters: dict[str, Any] | None = None,
        from_block: int = 0,
        to_block: int | None = None,
        chunk: int = 2000,
    ) -> list[Any]:
        """Decoded logs of one event in bounded block ranges of ``chunk`` blocks.

        The embedded chain answers from the log index of the transactions it mined (the
        only way to write to it): eth-tester's ``eth_getLogs`` re-reads every receipt in
        the range (~40 ms each).
        """
        chunk = integer(chunk, "chunk", lo=1, error=LedgerInputError)
        last = self.block_number() if to_block is None else int(to_block)
        if self.mode == "embedded":
            return self._indexed_logs(event, argument_filters or {}, max(0, int(from_block)), last)
        out: list[Any] = []
        lo = max(0, int(from_block))
        while lo <= last:
            hi = min(last, lo + chunk - 1)
            out.extend(
                self._rpc(
                    "eth_getLogs",
                    lambda lo=lo, hi=hi: list(
                        event.get_logs(argument_filters=argument_filters, from_block=lo, to_block=hi)
                    ),
                )
            )
            lo = hi + 1
        return out

    def _indexed_logs(self, event: Any, filters: dict[str, Any], lo: int, hi: int) -> list[Any]:
        out = []
        assert self._shared.node is not None
        with self.lock:
            logs = list(self._shared.node.logs)
        topic = Web3.to_hex(hexstr=event.topic)
        for log in logs:
            if log["address"] != event.address or not lo <= int(log["blockNumber"]) <= hi:
                continue
            if not log["topics"] or Web3.to_hex(log["topics"][0]) != topic:
                continue
            decoded = event.process_log(log)
            if all(decoded["args"][k] == v for k, v in filters.items()):
                out.append(decoded)
        return out

    # -- transactions: see contracts.transactions ------------------------------------------
    def deploy(self, compiled: CompiledContract, *args: Any, gas: int = 4_000_000) -> tuple[str, TxReceipt]:
        """Deploy a compiled contract; returns its address and the receipt."""
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = transactions.transact(self, factory.constructor(*args), gas=gas, action=f"deploy {compiled.name}")
        found = self._rpc("eth_getTransactionReceipt", lambda: self.w3.eth.get_transaction_receipt(receipt.tx_hash))
        return Web3.to_checksum_address(found["contractAddress"]), receipt

    def transact(self, fn: Any, *, gas: int | None = None, action: str = "") -> TxReceipt:
        """Send one contract transaction and wait until it is mined (see :func:`contracts.transactions.transact`)."""
        return transactions.transact(self, fn, gas=gas, action=action)

    def sign(self, fn: Any, *, gas: int, action: str = "") -> SignedWrite:
        """Sign ``fn`` with an explicit gas limit without sending it (see :mod:`contracts.transactions`)."""
        return transactions.sign(self, fn, gas=gas, action=action)

    def settle(self, write: SignedWrite) -> Settlement:
        """What became of ``write``; sends it if the node does not know it (see :mod:`contracts.transactions`)."""
        return transactions.settle(self, write)


def chunks(items: list[T], size: int) -> Iterable[list[T]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
