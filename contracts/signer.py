"""One nonce book per signing key and chain in a process, and one writing process per key.

Two clients that sign with the same key and pick nonces on their own overwrite each
other's transactions ("nonce too low", "replacement transaction underpriced"). So:

* in a process, every :class:`contracts.chain.Chain` that signs with a key on a chain
  shares one :class:`NonceBook` (a process-wide registry keyed by chain and address):
  one lock, one set of signed-but-unsettled writes;
* across processes, the first write takes an exclusive lock file
  ``<EV_STATE_DIR>/chain/locks/<chain id>-<address>.lock`` (``flock``, released by the
  kernel when the process ends, even on ``kill -9``); a second process that wants to
  write with the same key on the same chain from the same state folder gets
  :class:`WriterBusy` naming the holder's pid. Readers never take it.

Nonces are not cached: each signature asks the node for the account's pending nonce and
skips the nonces of this process's own writes that are signed but not settled yet. A node
that went back (restarted on an older state file) is therefore followed at once.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Hashable

from engine.ledger import LedgerError, SignedWrite

__all__ = ["NonceBook", "WriterBusy", "nonce_book", "claim_writer_lock", "release_writer_lock", "writer_lock_path"]


class WriterBusy(LedgerError):
    """Another process writes with this key on this chain (it holds the writer lock file)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"another process (pid {holder or '?'}) already writes with this key on this chain "
            f"(lock file {path}); stop it, or give this one another key or state folder"
        )
        self.path = path
        self.holder = holder


class NonceBook:
    """The writes one key has signed on one chain in this process.

    Attributes
    ----------
    lock : threading.RLock
        Held while a nonce is chosen and the transaction signed.
    outstanding : dict of str to SignedWrite
        Signed writes not yet known as mined, reverted or dropped, by transaction hash.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.outstanding: dict[str, SignedWrite] = {}

    def next_nonce(self, pending: int) -> int:
        """The nonce for a new transaction given the node's pending nonce.

        Parameters
        ----------
        pending : int
            ``eth_getTransactionCount(account, "pending")``.
        """
        taken = {w.nonce for w in self.outstanding.values()}
        nonce = int(pending)
        while nonce in taken:
            nonce += 1
        return nonce

    def track(self, write: SignedWrite) -> None:
        """Count ``write`` as signed and not settled."""
        with self.lock:
            self.outstanding[write.tx_hash] = write

    def done(self, write: SignedWrite) -> None:
        """``write`` is mined, reverted or dropped: its nonce is no longer held."""
        with self.lock:
            self.outstanding.pop(write.tx_hash, None)

    def lower(self, nonce: int) -> list[SignedWrite]:
        """Outstanding writes with a nonce below ``nonce``, lowest first."""
        with self.lock:
            return sorted((w for w in self.outstanding.values() if w.nonce < nonce), key=lambda w: w.nonce)


_BOOKS: dict[tuple[Hashable, str], NonceBook] = {}
_BOOKS_LOCK = threading.Lock()


def nonce_book(chain: Hashable, address: str) -> NonceBook:
    """The process-wide nonce book of ``address`` on ``chain`` (created on first use)."""
    key = (chain, address.lower())
    with _BOOKS_LOCK:
        book = _BOOKS.get(key)
        if book is None:
            book = _BOOKS[key] = NonceBook()
        return book


_FILES: dict[str, int] = {}
_FILES_LOCK = threading.Lock()


def writer_lock_path(state_chain_dir: Path, chain_id: int, address: str) -> Path:
    """``<chain dir>/locks/<chain id>-<address>.lock``."""
    return state_chain_dir / "locks" / f"{int(chain_id)}-{address.lower()}.lock"


def claim_writer_lock(path: Path) -> bool:
    """Hold ``path`` exclusively for this process (idempotent).

    Returns
    -------
    bool
        True if this call took the lock, False if this process already held it.

    Raises
    ------
    WriterBusy
        Another process holds it.
    """
    name = str(Path(path).resolve())
    with _FILES_LOCK:
        if name in _FILES:
            return False
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise WriterBusy(Path(name), holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _FILES[name] = fd
        return True


def release_writer_lock(path: Path) -> None:
    """Give the lock file up (no-op if this process does not hold it)."""
    name = str(Path(path).resolve())
    with _FILES_LOCK:
        fd = _FILES.pop(name, None)
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
