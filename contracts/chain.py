"""One web3 connection with one sending account: an embedded chain or a JSON-RPC node.

Two modes:

``embedded``
    In-process py-evm through eth-tester (``web3.EthereumTesterProvider``). Each
    process starts an empty chain; the sending account is eth-tester's first funded
    account. Every web3 call runs under one lock (py-evm is not thread-safe).
``rpc``
    Any EVM JSON-RPC URL (anvil, geth, an L2). Transactions are signed locally with a
    private key, nonces are managed here, connection errors are retried with
    exponential backoff and an unreachable node raises :class:`ChainUnavailable`
    naming the URL.

Reverts surface as :class:`ContractRevert` carrying the contract's reason string,
whichever backend raised them (eth-tester's ``TransactionFailed``, web3's
``ContractLogicError``, or a mined receipt with status 0).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, ProviderConnectionError, TimeExhausted, Web3RPCError

from contracts.compile import CompiledContract
from engine.ledger import LedgerError, TxReceipt

__all__ = [
    "ANVIL_DEFAULT_KEY",
    "Chain",
    "ChainUnavailable",
    "ContractRevert",
    "revert_reason",
    "to_receipt",
]

#: anvil's first default account (public knowledge; only ever used for a local anvil URL).
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

T = TypeVar("T")

try:  # eth-tester is optional for the rpc mode
    from eth_tester.exceptions import TransactionFailed as _TesterFailed
except ImportError:  # pragma: no cover - eth-tester is pinned in requirements
    _TesterFailed = ()  # type: ignore[assignment,misc]

_REVERT_ERRORS: tuple[type[BaseException], ...] = (ContractLogicError,) + (
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


_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, ProviderConnectionError, TimeoutError)
try:
    import requests

    _CONNECTION_ERRORS += (requests.exceptions.RequestException,)
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


@dataclass
class _Shared:
    """State shared by every :class:`Chain` over one connection."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    nonces: dict[str, int] = field(default_factory=dict)
    chain_id: int | None = None
    #: Embedded mode: raw logs of every transaction sent through this connection.
    logs: list[Any] = field(default_factory=list)


class Chain:
    """A web3 connection plus the account that signs.

    Build one with :meth:`embedded` or :meth:`rpc`; :meth:`with_account` gives a sibling
    that shares the connection, lock and nonce book but sends from another account.

    Parameters
    ----------
    w3 : Web3
    mode : {"embedded", "rpc"}
    rpc_url : str or None
    account : str
        Checksum address that sends transactions.
    signer : LocalAccount or None
        Local signer (rpc mode); None for eth-tester's unlocked accounts.
    retries : int
        Attempts after a connection error (rpc mode).
    backoff_s : float
        First backoff delay [s]; doubles per attempt.
    receipt_timeout_s : float
        How long to wait for a transaction to be mined [s].
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
        shared: _Shared | None = None,
    ) -> None:
        self.w3 = w3
        self.mode = mode
        self.rpc_url = rpc_url
        self.account = Web3.to_checksum_address(account)
        self._signer = signer
        self.retries = retries
        self.backoff_s = backoff_s
        self.receipt_timeout_s = receipt_timeout_s
        self._shared = shared or _Shared()

    # -- construction ---------------------------------------------------------------
    @classmethod
    def embedded(cls) -> "Chain":
        """A fresh in-process chain (eth-tester + py-evm); sends from its first account."""
        w3 = Web3(EthereumTesterProvider())
        return cls(w3, "embedded", None, w3.eth.accounts[0], None)

    @classmethod
    def rpc(
        cls,
        url: str,
        private_key: str,
        *,
        retries: int = 4,
        backoff_s: float = 0.25,
        timeout_s: float = 30.0,
        receipt_timeout_s: float = 120.0,
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
        """
        if not url.startswith(("http://", "https://")):
            raise LedgerError(f"CHAIN_RPC_URL: only http(s) URLs are supported, got {url!r}")
        try:
            signer: LocalAccount = Account.from_key(private_key)
        except Exception as exc:  # noqa: BLE001 - any malformed key
            raise LedgerError(f"CHAIN_PRIVATE_KEY: not a valid private key ({type(exc).__name__})") from None
        provider = HTTPProvider(url, exception_retry_configuration=None, request_kwargs={"timeout": timeout_s})
        chain = cls(
            Web3(provider),
            "rpc",
            url,
            signer.address,
            signer,
            retries=retries,
            backoff_s=backoff_s,
            receipt_timeout_s=receipt_timeout_s,
        )
        chain.chain_id  # noqa: B018 - fail fast, naming the URL
        return chain

    def with_account(self, key_or_address: str) -> "Chain":
        """A sibling chain sending from another account.

        Parameters
        ----------
        key_or_address : str
            In rpc mode a private key; in embedded mode one of eth-tester's account
            addresses (or a private key of an account funded there).
        """
        if len(key_or_address) == 42:
            if self.mode == "rpc":
                raise LedgerError("account: rpc mode needs a private key, not an address")
            return Chain(self.w3, self.mode, self.rpc_url, key_or_address, None, shared=self._shared)
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
            shared=self._shared,
        )

    # -- plumbing -------------------------------------------------------------------
    @property
    def lock(self) -> threading.RLock:
        """The lock every write (and, embedded, every call) runs under."""
        return self._shared.lock

    def _rpc(self, what: str, fn: Callable[[], T]) -> T:
        """Run a node request, retrying connection errors with exponential backoff."""
        if self.mode == "embedded":
            with self.lock:
                return fn()
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except _CONNECTION_ERRORS as exc:
                if attempt == self.retries:
                    raise ChainUnavailable(str(self.rpc_url), f"{what}: {type(exc).__name__}: {exc}") from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def chain_id(self) -> int:
        """The node's chain id (asked once)."""
        if self._shared.chain_id is None:
            self._shared.chain_id = int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))
        return self._shared.chain_id

    def ping(self) -> bool:
        """Whether the node answers (one quick request, no retries)."""
        try:
            if self.mode == "embedded":
                with self.lock:
                    self.w3.eth.block_number
                return True
            self.w3.eth.block_number
            return True
        except Exception:  # noqa: BLE001 - any failure means "does not answer"
            return False

    def block_number(self) -> int:
        """The latest block number."""
        return int(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

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
        except _REVERT_ERRORS as exc:
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

        The embedded chain answers from the log index of the transactions sent
        through this connection (the only way to write to it): eth-tester's
        ``eth_getLogs`` re-reads every receipt in the range (~40 ms each).
        """
        if chunk < 1:
            raise LedgerError(f"chunk: must be >= 1, got {chunk}")
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
        with self.lock:
            logs = list(self._shared.logs)
        for log in logs:
            if log["address"] != event.address or not lo <= int(log["blockNumber"]) <= hi:
                continue
            if not log["topics"] or Web3.to_hex(log["topics"][0]) != Web3.to_hex(hexstr=event.topic):
                continue
            decoded = event.process_log(log)
            if all(decoded["args"][k] == v for k, v in filters.items()):
                out.append(decoded)
        return out

    # -- transactions -----------------------------------------------------------------
    def deploy(self, compiled: CompiledContract, *args: Any, gas: int = 4_000_000) -> tuple[str, TxReceipt]:
        """Deploy a compiled contract; returns its address and the receipt."""
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = self._send(factory.constructor(*args), gas=gas, action=f"deploy {compiled.name}")
        return Web3.to_checksum_address(receipt["contractAddress"]), to_receipt(receipt)

    def transact(self, fn: Any, *, gas: int | None = None, action: str = "") -> TxReceipt:
        """Send one contract transaction and wait until it is mined.

        Parameters
        ----------
        fn : ContractFunction
            The bound call, e.g. ``registry.functions.set_threshold(key, 16600)``.
        gas : int, optional
            Gas limit for embedded mode, used as given (eth-tester's estimation is
            slow). Rpc mode always estimates (which also reports a revert's reason)
            and sends with the larger of ``gas`` and the estimate + 25 % + 10,000.
        action : str
            Label for error messages.

        Raises
        ------
        ContractRevert
            The contract reverted (reason attached).
        ChainUnavailable
            The node cannot be reached.
        """
        return to_receipt(self._send(fn, gas=gas, action=action))

    def _send(self, fn: Any, *, gas: int | None, action: str) -> Any:
        if self.mode == "embedded":
            with self.lock:
                try:
                    params: dict[str, Any] = {"from": self.account}
                    if gas is not None:
                        params["gas"] = gas
                    tx_hash = fn.transact(params)
                    receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
                except _REVERT_ERRORS as exc:
                    raise ContractRevert(revert_reason(exc), action=action) from None
                if receipt["status"] != 1:
                    self._raise_failed(fn, receipt, action)
                self._shared.logs.extend(receipt["logs"])
                return receipt
        return self._send_signed(fn, gas=gas, action=action)

    def _send_signed(self, fn: Any, *, gas: int | None, action: str) -> Any:
        assert self._signer is not None
        with self.lock:
            try:
                est = self._rpc(f"{action} (estimate gas)", lambda: fn.estimate_gas({"from": self.account}))
            except _REVERT_ERRORS as exc:
                raise ContractRevert(revert_reason(exc), action=action) from None
            # The estimate runs in a block with the latest timestamp, where rewriting an
            # unchanged status word is a cheap no-op SSTORE: the hint covers the real cost.
            limit = max(int(est * 1.25) + 10_000, gas or 0)
            signed = None
            for attempt in range(2):
                nonce = self._next_nonce(refresh=attempt > 0)
                tx = self._rpc(
                    f"{action} (build)",
                    lambda nonce=nonce: fn.build_transaction({"from": self.account, "nonce": nonce, "gas": limit}),
                )
                signed = self._signer.sign_transaction(tx)
                try:
                    self._rpc(f"{action} (send)", lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
                    break
                except Web3RPCError as exc:
                    text = str(exc).lower()
                    if "already known" in text:
                        break  # an earlier attempt reached the node
                    if "nonce too low" in text and attempt == 0:
                        continue
                    raise LedgerError(f"{action}: node refused the transaction: {exc}") from None
            self._shared.nonces[self.account] = nonce + 1
        assert signed is not None
        try:
            receipt = self._rpc(
                f"{action} (receipt)",
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    signed.hash, timeout=self.receipt_timeout_s, poll_latency=0.1
                ),
            )
        except TimeExhausted:
            raise LedgerError(
                f"{action}: transaction {signed.hash.to_0x_hex()} not mined within {self.receipt_timeout_s:g} s"
            ) from None
        if receipt["status"] != 1:
            self._raise_failed(fn, receipt, action)
        return receipt

    def _next_nonce(self, *, refresh: bool) -> int:
        known = self._shared.nonces.get(self.account)
        if known is None or refresh:
            known = int(
                self._rpc("eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(self.account, "pending"))
            )
            self._shared.nonces[self.account] = known
        return known

    def _raise_failed(self, fn: Any, receipt: Any, action: str) -> None:
        """A mined transaction failed: replay it as a call to recover the reason."""
        tx_hash = receipt["transactionHash"].to_0x_hex()
        reason = None
        try:
            block = max(int(receipt["blockNumber"]) - 1, 0)
            fn.call({"from": self.account}, block_identifier=block)
        except _REVERT_ERRORS as exc:
            reason = revert_reason(exc)
        except Exception:  # noqa: BLE001 - best effort only
            reason = None
        if reason is None:
            try:
                limit = int(self.w3.eth.get_transaction(receipt["transactionHash"])["gas"])
            except Exception:  # noqa: BLE001 - best effort only
                limit = -1
            if int(receipt["gasUsed"]) >= limit > 0:
                reason = f"out of gas (limit {limit})"
            else:
                reason = "transaction failed (reason unavailable)"
        raise ContractRevert(reason, action=action, tx_hash=tx_hash)


def chunks(items: list[T], size: int) -> Iterable[list[T]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
