"""The app's chain service: one ledger connection per process, the site kept in step with SC1.

Pages never talk to web3 directly and never block on the chain; they ask this service.

* The connection is made lazily and bounded in time; a failure is remembered with its reason
  and tried again after ``retry_s`` (a failed connection is never cached for good).
* :meth:`ChainService.ensure_synced` writes the site to SC1 (``Ledger.sync_site``: only what the
  chain lacks). The runtime's outbox thread calls it through :meth:`head`, so the site reaches
  the chain without any page open.
* :meth:`ChainService.write_edit` writes a CPO's edit to SC1 *before* the site file is saved: a
  refusal (a revert, e.g. a threshold the contract does not accept) leaves both unchanged and is
  shown; a chain that does not answer saves the edit locally, marked pending, and the next sync
  writes it (the sidebar shows it pending until then).
* It implements the engine's ledger port for the runtime's outbox (``sign_statuses``,
  ``settle``, ``head``): each call fails with a ``LedgerError`` until the chain answers and the
  site is on it, so statuses wait in the journal, in order.
* The pages' reads (:meth:`statuses`, :meth:`registration`, :meth:`ping`) never raise and never
  hold a render long: each asks the node within ``read_budget_s``, and once one finds the node
  silent, the others answer "unknown" at once until ``retry_s`` has passed or the outbox thread
  hears the node again (a hanging node costs a page at most one such wait).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from engine.ledger import LedgerError, Settlement, SignedWrite, StatusReport, TxReceipt
from engine.site.model import Site

__all__ = ["ChainService", "EditResult"]


class EditResult:
    """What became of an edit on chain: ``written`` (with the tx), ``pending`` (saved locally,
    the chain did not answer) or ``off`` (no chain)."""

    def __init__(self, state: str, tx_hash: str | None = None, detail: str = "") -> None:
        self.state = state
        self.tx_hash = tx_hash
        self.detail = detail

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"EditResult({self.state!r}, {self.tx_hash!r}, {self.detail!r})"


class ChainService:
    """The process's chain connection and the site's registration on it.

    Parameters
    ----------
    site : callable
        Returns the current site.
    state_dir : Path
        Where compiled contracts, deployments and the embedded chain live.
    enabled : bool
        False: no chain at all (``EV_CHAIN=off``).
    retry_s : float
        Wait before trying again after a failed connection, or before a page reads again from a
        node that did not answer [s].
    read_budget_s : float
        Longest a page's read may wait for the node [s].
    connect : callable, optional
        Builds the ledger (default ``contracts.ledger.Ledger.connect(state_dir=...)``).
    """

    def __init__(self, site: Callable[[], Site], state_dir: str | os.PathLike[str], *, enabled: bool = True,
                 retry_s: float = 10.0, read_budget_s: float = 2.0,
                 connect: Callable[[], Any] | None = None) -> None:
        self.site_of = site
        self.state_dir = Path(state_dir)
        self.enabled = enabled
        self.retry_s = retry_s
        self.read_budget_s = read_budget_s
        self._silent_at: float | None = None  # when a page's read last found the node silent
        self._connect = connect
        self.ledger: Any | None = None
        self.error: str | None = None
        self.synced: Site | None = None
        self.sync_error: str | None = None
        self._failed_at = 0.0
        self._lock = threading.RLock()
        self.syncing = False

    # -- state -------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if not self.enabled:
            return "off"
        if self.ledger is None:
            return "unavailable"
        return str(getattr(self.ledger, "mode", "?"))

    @property
    def pending_edits(self) -> bool:
        """The site file holds edits the chain does not have yet."""
        return self.enabled and self.synced != self.site_of()

    def connect(self, *, force: bool = False) -> Any | None:
        """The ledger, connecting if needed (None while the chain cannot be reached)."""
        if not self.enabled:
            return None
        with self._lock:
            if self.ledger is not None:
                return self.ledger
            if not force and time.monotonic() - self._failed_at < self.retry_s and self.error:
                return None
            try:
                if self._connect is not None:
                    self.ledger = self._connect()
                else:
                    # web3, eth-tester and vyper load here, on the first connection: never with EV_CHAIN=off
                    from contracts.ledger import Ledger

                    self.ledger = Ledger.connect(state_dir=self.state_dir)
                self.error = None
            except Exception as exc:  # noqa: BLE001 - any failure is kept, shown and retried
                self.error = f"{type(exc).__name__}: {exc}"
                self._failed_at = time.monotonic()
                self.ledger = None
            return self.ledger

    def ensure_synced(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Write the site to SC1 if the chain does not hold this version yet; True when in step."""
        led = self.connect()
        if led is None:
            return False
        site = self.site_of()
        if self.synced == site:
            return True
        with self._lock:
            if self.synced == site:
                return True
            self.syncing = True
            try:
                led.sync_site(site, progress=progress)
                self.synced = site
                self.sync_error = None
                return True
            except Exception as exc:  # noqa: BLE001
                self.sync_error = f"{type(exc).__name__}: {exc}"
                return False
            finally:
                self.syncing = False

    def ping(self) -> bool:
        """Whether the chain answers (False at once while it is known silent)."""
        return bool(self._page_read(lambda led: led.ping() or self._silent(), False))

    # -- CPO edits ----------------------------------------------------------------------------------
    def write_edit(self, action: str, call: Callable[[Any], TxReceipt]) -> EditResult:
        """Write one edit to SC1 with ``call(ledger)``.

        Returns ``written`` with the tx, or ``pending`` when the chain does not answer (the edit is
        saved locally by the caller and synced later). A revert raises ``LedgerError`` with the
        contract's reason: the caller must then not save the edit.
        """
        if not self.enabled:
            return EditResult("off")
        led = self.connect(force=True)
        if led is None:
            return EditResult("pending", detail=self.error or "chain unavailable")
        from contracts.calls import ChainUnavailable  # loaded with the ledger above (web3: see connect)

        try:
            with self._lock:
                rc = call(led)
        except ChainUnavailable as exc:
            return EditResult("pending", detail=str(exc))
        return EditResult("written", rc.tx_hash)

    def apply_edit(self, store: Any, edit: Callable[[Site], Site], action: str,
                   call: Callable[[Any, Site], TxReceipt]) -> tuple[Site, EditResult]:
        """A CPO's edit: validated, written to SC1, then saved (never one without the other).

        Parameters
        ----------
        store : SiteStore
        edit : callable
            ``edit(site) -> new site``; raises ``SiteError`` naming the field.
        action : str
            The contract call, for messages (``set_threshold``, ``move_asset``, ...).
        call : callable
            ``call(ledger, new_site) -> TxReceipt``: the write.

        Returns
        -------
        (new site, EditResult)
            ``written`` with the tx; ``pending`` when the chain does not answer (saved, synced
            later); ``off`` without a chain.

        Raises
        ------
        SiteError
            The edit is invalid: nothing is saved or written.
        LedgerError
            The chain refused it (``reason``): nothing is saved.
        """
        # the site is held from the read to the save: an edit made meanwhile by another process
        # (of another cabinet, say) is neither overwritten nor lost
        with self._lock, store.editing() as current:
            new = edit(current)
            in_step = self.synced is not None and self.synced == current
            res = self.write_edit(action, lambda led: call(led, new))
            store.update(lambda _: new)
            if res.state == "written" and in_step:
                self.synced = store.site()
            return new, res

    # -- reads for pages (never raise, never hold a render long) ----------------------------------------
    def _silent(self) -> bool:
        """Remember that the node did not answer a page (False, for ``ping``)."""
        self._silent_at = time.monotonic()
        return False

    def _page_read(self, read: Callable[[Any], Any], unknown: Any) -> Any:
        """``read(ledger)`` within ``read_budget_s``; ``unknown`` without a ledger, on a failure,
        or at once while the node is known silent."""
        led = self.ledger
        silent = self._silent_at
        if led is None or (silent is not None and time.monotonic() - silent < self.retry_s):
            return unknown
        from contracts.calls import ChainUnavailable, budget  # loaded with the ledger (web3: see connect)

        try:
            with budget(self.read_budget_s):
                return read(led)
        except ChainUnavailable:
            self._silent()
        except Exception:  # noqa: BLE001 - shown as unknown
            pass
        return unknown

    def statuses(self, asset_ids: Sequence[str]) -> dict[str, StatusReport | None]:
        return self._page_read(lambda led: dict(led.get_statuses(list(asset_ids))), {})

    def chain_now(self, wall_now: float) -> float:
        """Now on the clock of the block timestamps [s since epoch]: ``wall_now``, or the latest
        block's timestamp when the chain runs ahead of it.

        Each block takes at least a second past its parent: a chain mining more than a block a
        second (the embedded chain writing the site, or posting every second at
        ``EV_CLOCK_SPEED=60``) runs ahead of the wall clock, by tens of seconds here; a status
        age counted from the wall clock then reads 0 however old the status is. Counted from
        the head, ages are right while blocks keep coming; when none comes (nothing posts), the
        head stands still until the wall clock passes it, so an age lags by at most that lead.
        """
        led = self.ledger
        if led is None:
            return wall_now
        try:
            return max(wall_now, float(led.head_timestamp()))
        except Exception:  # noqa: BLE001 - a chain without it, or not answering: the wall clock
            return wall_now

    def registration(self, asset_id: str) -> Any | None:
        return self._page_read(lambda led: led.registration(asset_id), None)

    # -- the engine's ledger port (the runtime's outbox) ------------------------------------------------
    def _ready(self) -> Any:
        if not self.enabled:
            raise LedgerError("chain: off (EV_CHAIN=off)")
        if not self.ensure_synced():
            raise LedgerError(f"chain: not ready ({self.error or self.sync_error or 'site not on chain yet'})")
        return self.ledger

    def sign_statuses(self, reports: Sequence[StatusReport]) -> SignedWrite:
        return self._ready().sign_statuses(reports)

    def settle(self, write: SignedWrite) -> Settlement:
        return self._ready().settle(write)

    def head(self) -> int:
        block = int(self._ready().head())
        self._silent_at = None  # the node answers again: pages read from it at once
        return block
