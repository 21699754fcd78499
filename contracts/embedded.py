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

import hashlib
import json
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth_tester import EthereumTester, PyEVMBackend
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3
from web3.datastructures import AttributeDict

from engine.ledger import LedgerError

__all__ = ["DEV_KEYS", "EmbeddedNode", "embedded_node", "forget_embedded_node", "journal_path"]

#: eth-tester's development keys (private keys 1..10), funded at genesis.
DEV_KEYS = tuple("0x" + f"{i:064x}" for i in range(1, 11))
_VERSION = 1
#: New transactions between two snapshots of the embedded chain's database.
SNAPSHOT_EVERY = 100


def journal_path(state_chain_dir: Path) -> Path:
    """``<chain dir>/embedded/chain.jsonl``."""
    return state_chain_dir / "embedded" / "chain.jsonl"


class EmbeddedNode:
    """One in-process chain, optionally journaled.

    Parameters
    ----------
    journal : Path or None
        Journal file; None for a chain that lives only as long as the object.
    snapshot_every : int, optional
        Write a snapshot of the chain's database after this many new transactions
        (default :data:`SNAPSHOT_EVERY`).

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
        Transactions of the journal applied on start (from the snapshot or replayed).
    from_snapshot : int
        Of those, how many came with the snapshot (not replayed one by one).
    replay_s : float
        Time the start took [s] (snapshot load + replay).
    replay_note : str or None
        Why the replay stopped early, if it did.
    """

    def __init__(self, journal: Path | None = None, *, snapshot_every: int | None = None) -> None:
        self.journal = journal
        self.snapshot_every = int(SNAPSHOT_EVERY if snapshot_every is None else snapshot_every)
        self.lock = threading.RLock()
        self.logs: list[Any] = []
        self.mined: dict[str, int] = {}
        self.replayed = 0
        self.from_snapshot = 0
        self.replay_s = 0.0
        self.replay_note: str | None = None
        self._offset = 0  # bytes of the journal already applied
        self._unsnapshotted = 0
        self.closed = False
        t0 = time.perf_counter()
        header, entries = self._read_journal()
        self._genesis_ts = int(header["genesis"]["timestamp"]) if header else int(time.time())
        self._fresh()
        if self.journal is not None and header is None:
            self._start_journal()
        start = self._restore(entries)
        failed = self._replay(entries[start:], first=start)
        if failed is not None:  # start again without the transaction that failed and those after it
            n, exc = failed
            self._fresh()
            self._replay(entries[:n])
            self._set_aside(n, entries, exc)
        if self._unsnapshotted >= self.snapshot_every:
            self._write_snapshot()
        self.replay_s = time.perf_counter() - t0

    def _fresh(self) -> None:
        params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": self._genesis_ts})
        self.tester = EthereumTester(PyEVMBackend(genesis_parameters=params))
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.logs, self.mined, self.replayed, self.from_snapshot, self._unsnapshotted = [], {}, 0, 0, 0
        self._offset = self._header_len

    # ------------------------------------------------------------------ journal
    def _read_journal(self, start: int = 0) -> tuple[dict | None, list[tuple[dict, int]]]:
        """(header, [(entry, end offset)]) from byte ``start``; cuts a torn last line off."""
        self._header_len = getattr(self, "_header_len", 0)
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
                self._header_len = end + 1
            elif isinstance(item, dict) and "raw" in item:
                entries.append((item, end + 1))
            pos = end + 1
        return (header if start == 0 else None), entries

    def _start_journal(self) -> None:
        assert self.journal is not None
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"genesis": {"timestamp": self._genesis_ts}, "version": _VERSION}) + "\n"
        with open(self.journal, "wb") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        self._header_len = self._offset = len(line)
        self._drop_snapshot()

    def _append(self, entry: dict) -> None:
        if self.journal is None:
            return
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with open(self.journal, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._offset += len(line)
        self._unsnapshotted += 1
        if self._unsnapshotted >= self.snapshot_every:
            self._write_snapshot()

    def _index(self, entry: dict) -> None:
        """Add a journaled transaction to the hash and log indices."""
        self.mined[entry["tx"]] = int(entry["block"])
        for item in entry.get("logs", ()):
            self.logs.append(
                AttributeDict(
                    {
                        "address": item["a"],
                        "topics": [HexBytes(t) for t in item["t"]],
                        "data": HexBytes(item["d"]),
                        "logIndex": int(item["i"]),
                        "transactionIndex": int(item["x"]),
                        "transactionHash": HexBytes(entry["tx"]),
                        "blockHash": HexBytes(entry["h"]),
                        "blockNumber": int(entry["block"]),
                        "removed": False,
                    }
                )
            )

    def _replay(self, entries: list[tuple[dict, int]], first: int = 0) -> tuple[int, BaseException] | None:
        """Mine the journaled transactions in order; (index, error) of the first that fails."""
        backend = self.tester.backend
        for n, (entry, end) in enumerate(entries, start=first):
            try:
                backend.chain.header = backend.chain.header.copy(timestamp=int(entry["ts"]))
                got = self.tester.send_raw_transaction(str(entry["raw"]))  # eth-tester mines it at once
                block = int(backend.chain.get_canonical_head().block_number)
                if got != entry["tx"] or block != int(entry["block"]):
                    raise ValueError(f"replayed to {got} in block {block}")
            except Exception as exc:  # noqa: BLE001 - any failure stops the replay here
                return n, exc
            self._index(entry)
            self._offset = end
            self.replayed += 1
            self._unsnapshotted += 1
        return None

    def _set_aside(self, n: int, entries: list[tuple[dict, int]], exc: BaseException) -> None:
        """Keep the journal as ``.broken-<k>`` and continue a journal of what did replay."""
        assert self.journal is not None
        self._drop_snapshot()
        k = 1
        while self.journal.with_name(f"{self.journal.name}.broken-{k}").exists():
            k += 1
        aside = self.journal.with_name(f"{self.journal.name}.broken-{k}")
        keep = entries[n - 1][1] if n > 0 else self._header_len
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

    def close(self) -> None:
        """No more writes through this object (reads still answer, as of now)."""
        with self.lock:
            self.closed = True

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

    # ------------------------------------------------------------------ snapshots
    def _snapshot_paths(self) -> tuple[Path, Path]:
        assert self.journal is not None
        return self.journal.with_name("snapshot.bin"), self.journal.with_name("snapshot.json")

    def _drop_snapshot(self) -> None:
        if self.journal is not None:
            for path in self._snapshot_paths():
                path.unlink(missing_ok=True)

    def _write_snapshot(self) -> None:
        """The chain's whole database as of the journal's current end (atomic, checksummed)."""
        if self.journal is None:
            return
        kv = self.tester.backend.chain.chaindb.db.wrapped_db.kv_store
        blob = b"".join(struct.pack(">II", len(k), len(v)) + bytes(k) + bytes(v) for k, v in kv.items())
        last = max(self.mined.items(), key=lambda kv_: kv_[1])[0] if self.mined else ""
        meta = {
            "genesis": self._genesis_ts,
            "offset": self._offset,
            "transactions": self.replayed_total,
            "last_tx": last,
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
        bin_path, meta_path = self._snapshot_paths()
        for path, data in ((bin_path, blob), (meta_path, json.dumps(meta).encode())):
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        self._unsnapshotted = 0

    @property
    def replayed_total(self) -> int:
        """Transactions on this chain (from the journal or sent since)."""
        return len(self.mined)

    def _restore(self, entries: list[tuple[dict, int]]) -> int:
        """Load the snapshot if it matches the journal; returns how many entries it covers."""
        if self.journal is None or not entries:
            return 0
        bin_path, meta_path = self._snapshot_paths()
        try:
            meta = json.loads(meta_path.read_text())
            k = int(meta["transactions"])
            if not (0 < k <= len(entries)) or int(meta["genesis"]) != self._genesis_ts:
                return 0
            if entries[k - 1][1] != int(meta["offset"]) or entries[k - 1][0]["tx"] != meta["last_tx"]:
                return 0
            blob = bin_path.read_bytes()
            if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
                return 0
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        kv: dict[bytes, bytes] = {}
        view, pos = memoryview(blob), 0
        while pos < len(blob):
            klen, vlen = struct.unpack_from(">II", blob, pos)
            pos += 8
            key = bytes(view[pos : pos + klen])
            pos += klen
            kv[key] = bytes(view[pos : pos + vlen])
            pos += vlen
        backend = self.tester.backend
        backend.chain = type(backend.chain)(AtomicDB(MemoryDB(kv)))
        if int(backend.chain.get_canonical_head().block_number) != int(entries[k - 1][0]["block"]):
            self._fresh()
            return 0
        for entry, _ in entries[:k]:
            self._index(entry)
        self.replayed = self.from_snapshot = k
        self._offset = entries[k - 1][1]
        return k

    # ------------------------------------------------------------------ transactions
    def send_raw(self, raw_hex: str) -> Any:
        """Mine one signed raw transaction and journal it; returns its receipt.

        Raises eth-tester's ``ValidationError`` (e.g. a wrong nonce) when it is refused, and
        ``LedgerError`` after :meth:`close` (the journal may have moved on without it).
        """
        with self.lock:
            if self.closed:
                raise LedgerError("embedded chain: this connection was closed; connect again to write")
            tx_hash = self.w3.eth.send_raw_transaction(raw_hex)  # eth-tester mines it at once
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            block = self.w3.eth.get_block(receipt["blockNumber"])
            entry = {
                "tx": tx_hash.to_0x_hex(),
                "raw": raw_hex,
                "ts": int(block["timestamp"]),
                "block": int(receipt["blockNumber"]),
                "h": block["hash"].to_0x_hex(),
                "logs": [
                    {
                        "a": str(log["address"]),
                        "t": [HexBytes(t).to_0x_hex() for t in log["topics"]],
                        "d": HexBytes(log["data"]).to_0x_hex(),
                        "i": int(log["logIndex"]),
                        "x": int(log["transactionIndex"]),
                    }
                    for log in receipt["logs"]
                ],
            }
            self._index(entry)
            self._append(entry)
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
