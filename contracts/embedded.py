"""The embedded chain: eth-tester + py-evm in the process, kept across restarts by a journal.

Every transaction reaches the embedded chain as a raw transaction signed with a local key
(eth-tester's deterministic development keys, ``0x..01`` to ``0x..0a``, funded at genesis),
exactly as on a JSON-RPC node. Each one mined is appended to a journal
``<EV_STATE_DIR>/chain/embedded/chain.jsonl`` (one JSON line, flushed and fsynced before the
sender hears of its receipt)::

    {"genesis": {"timestamp": 1796001447}, "version": 1}
    {"tx": "0x<hash>", "raw": "0x<signed tx>", "ts": 1796001448, "block": 1}

On start the journal is replayed into a fresh eth-tester with the same genesis: the same
raw transactions at the same block timestamps give the same transaction hashes, block
numbers, contract addresses, logs and state, so what was shown before a restart stays
readable. A torn last line (a crash mid-write) is cut off; a transaction that no longer
replays to the recorded hash stops the replay there and the journal is kept aside as
``chain.jsonl.broken-<n>`` (``replay_note`` says so). Measured replay figures: docs/chain.md.

One process per state folder writes (the writer lock of ``contracts.signer``); another may
replay the journal and read, and :meth:`EmbeddedNode.catch_up` replays what the writer
appended since.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

__all__ = ["DEV_KEYS", "EmbeddedNode", "embedded_node", "forget_embedded_node", "journal_path"]

#: eth-tester's development keys (private keys 1..10), funded at genesis.
DEV_KEYS = tuple("0x" + f"{i:064x}" for i in range(1, 11))
_VERSION = 1


def journal_path(state_chain_dir: Path) -> Path:
    """``<chain dir>/embedded/chain.jsonl``."""
    return state_chain_dir / "embedded" / "chain.jsonl"


class EmbeddedNode:
    """One in-process chain, optionally journaled.

    Parameters
    ----------
    journal : Path or None
        Journal file; None for a chain that lives only as long as the object.

    Attributes
    ----------
    w3 : Web3
    lock : threading.RLock
        Every call into py-evm runs under it (py-evm is not thread-safe).
    logs : list
        Raw logs of every mined transaction, in order (the log index ``get_logs`` reads).
    mined : dict of str to int
        Transaction hash -> block number of every mined transaction.
    replayed : int
        Transactions replayed from the journal on start.
    replay_s : float
        Time the replay took [s].
    replay_note : str or None
        Why the replay stopped early, if it did.
    """

    def __init__(self, journal: Path | None = None) -> None:
        self.journal = journal
        self.lock = threading.RLock()
        self.logs: list[Any] = []
        self.mined: dict[str, int] = {}
        self.replayed = 0
        self.replay_s = 0.0
        self.replay_note: str | None = None
        self._offset = 0  # bytes of the journal already applied
        header, entries = self._read_journal()
        genesis_ts = int(header["genesis"]["timestamp"]) if header else int(time.time())
        self._fresh(genesis_ts)
        if self.journal is not None and header is None:
            self._start_journal(genesis_ts)
        t0 = time.perf_counter()
        failed = self._replay(entries)
        if failed is not None:  # start again without the transaction that failed and those after it
            n, exc = failed
            self._fresh(genesis_ts)
            self.logs, self.mined, self.replayed = [], {}, 0
            self._replay(entries[:n])
            self._set_aside(n, entries, exc)
        self.replay_s = time.perf_counter() - t0

    def _fresh(self, genesis_ts: int) -> None:
        params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": genesis_ts})
        self.tester = EthereumTester(PyEVMBackend(genesis_parameters=params))
        self.w3 = Web3(EthereumTesterProvider(self.tester))

    # ------------------------------------------------------------------ journal
    def _read_journal(self, start: int = 0) -> tuple[dict | None, list[tuple[dict, int]]]:
        """(header, [(entry, end offset)]) from byte ``start``; cuts a torn last line off."""
        if self.journal is None or not self.journal.is_file():
            return None, []
        data = self.journal.read_bytes()
        header: dict | None = None
        entries: list[tuple[dict, int]] = []
        pos = start
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:  # torn last line: a crash mid-append
                if start == 0:
                    with open(self.journal, "r+b") as fh:
                        fh.truncate(pos)
                break
            try:
                item = json.loads(data[pos:end])
            except ValueError:
                item = None
            if isinstance(item, dict) and "genesis" in item and pos == 0:
                header = item
            elif isinstance(item, dict) and "raw" in item:
                entries.append((item, end + 1))
            pos = end + 1
        if start == 0:
            self._offset = 0 if header is None else data.find(b"\n") + 1
        return (header if start == 0 else None), entries

    def _start_journal(self, genesis_ts: int) -> None:
        assert self.journal is not None
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"genesis": {"timestamp": genesis_ts}, "version": _VERSION}) + "\n"
        with open(self.journal, "wb") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        self._offset = len(line)

    def _append(self, entry: dict) -> None:
        if self.journal is None:
            return
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with open(self.journal, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._offset += len(line)

    def _replay(self, entries: list[tuple[dict, int]]) -> tuple[int, BaseException] | None:
        """Mine the journaled transactions in order; (index, error) of the first that fails."""
        backend = self.tester.backend
        for n, (entry, end) in enumerate(entries):
            try:
                backend.chain.header = backend.chain.header.copy(timestamp=int(entry["ts"]))
                receipt = self._mine(str(entry["raw"]))
                got = receipt["transactionHash"].to_0x_hex()
                if got != entry["tx"] or int(receipt["blockNumber"]) != int(entry["block"]):
                    raise ValueError(f"replayed to {got} in block {receipt['blockNumber']}")
            except Exception as exc:  # noqa: BLE001 - any failure stops the replay here
                return n, exc
            self._offset = end
            self.replayed += 1
        return None

    def _set_aside(self, n: int, entries: list[tuple[dict, int]], exc: BaseException) -> None:
        """Keep the journal as ``.broken-<k>`` and continue a journal of what did replay."""
        assert self.journal is not None
        k = 1
        while self.journal.with_name(f"{self.journal.name}.broken-{k}").exists():
            k += 1
        aside = self.journal.with_name(f"{self.journal.name}.broken-{k}")
        keep = entries[n - 1][1] if n > 0 else self._offset
        data = self.journal.read_bytes()
        os.replace(self.journal, aside)
        tmp = self.journal.with_suffix(".tmp")
        tmp.write_bytes(data[:keep])
        os.replace(tmp, self.journal)
        self._offset = keep
        self.replay_note = (
            f"embedded chain: transaction {n + 1} of the journal did not replay "
            f"({type(exc).__name__}: {exc}); kept the first {n}, the whole journal is in {aside.name}"
        )

    def catch_up(self) -> int:
        """Replay what another process appended to the journal since; returns how many."""
        with self.lock:
            if self.journal is None:
                return 0
            _, entries = self._read_journal(self._offset)
            before = self.replayed
            failed = self._replay(entries)
            if failed is not None:
                self.replay_note = f"embedded chain: the journal's new entries did not replay ({failed[1]})"
            return self.replayed - before

    # ------------------------------------------------------------------ transactions
    def _mine(self, raw_hex: str) -> Any:
        tx_hash = self.w3.eth.send_raw_transaction(raw_hex)  # eth-tester mines it at once
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        self.mined[tx_hash.to_0x_hex()] = int(receipt["blockNumber"])
        self.logs.extend(receipt["logs"])
        return receipt

    def send_raw(self, raw_hex: str) -> Any:
        """Mine one signed raw transaction and journal it; returns its receipt.

        Raises eth-tester's ``ValidationError`` (e.g. a wrong nonce) when it is refused.
        """
        with self.lock:
            receipt = self._mine(raw_hex)
            block = self.w3.eth.get_block(receipt["blockNumber"])
            self._append(
                {
                    "tx": receipt["transactionHash"].to_0x_hex(),
                    "raw": raw_hex,
                    "ts": int(block["timestamp"]),
                    "block": int(receipt["blockNumber"]),
                }
            )
            return receipt


_NODES: dict[str, EmbeddedNode] = {}
_NODES_LOCK = threading.Lock()


def embedded_node(state_chain_dir: Path | None) -> EmbeddedNode:
    """The process's embedded chain for a state folder (replayed from its journal once).

    ``None`` gives a new chain kept only in memory.
    """
    if state_chain_dir is None:
        return EmbeddedNode(None)
    path = journal_path(Path(state_chain_dir))
    name = str(path.resolve())
    with _NODES_LOCK:
        node = _NODES.get(name)
        if node is None:
            node = _NODES[name] = EmbeddedNode(path)
        return node


def forget_embedded_node(state_chain_dir: Path) -> None:
    """Drop the process's embedded chain of a state folder (the next connect replays)."""
    name = str(journal_path(Path(state_chain_dir)).resolve())
    with _NODES_LOCK:
        _NODES.pop(name, None)
