"""Shared UI helpers: the app's singletons (site store, kiosk, chain) and the CPO sidebar.

Not a page (app.py does not list it). One ``st.cache_resource`` per shared singleton; each is
thread-safe (streamlit runs every session's script in its own thread).

Chain: ``contracts.ledger.Ledger.connect()`` (embedded eth-tester chain unless ``CHAIN_RPC_URL``
names a node). The embedded chain starts empty, so the first script run that needs the chain
writes the site to it (``sync_site``) with a progress bar. ``EV_CHAIN=off`` runs the app without
any chain (statuses show as Available, edits are saved but not written on chain).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from engine.clock import site_now
from engine.kiosk import Kiosk, SessionBook
from engine.ledger import Status, StatusReport
from engine.site import Site
from engine.sitestore import SiteStore

STATUS_COLORS: dict[Status, tuple[int, int, int]] = {
    Status.AVAILABLE: (46, 160, 67),
    Status.PREPARING: (80, 160, 230),
    Status.CHARGING: (20, 90, 200),
    Status.SUSPENDED_EVSE: (240, 150, 30),
    Status.SUSPENDED_EV: (240, 190, 60),
    Status.FINISHING: (30, 170, 170),
    Status.RESERVED: (150, 90, 200),
    Status.UNAVAILABLE: (130, 130, 130),
    Status.FAULTED: (215, 40, 40),
}


def status_label(s: Status) -> str:
    """OCPP name of a status, e.g. ``SuspendedEVSE``."""
    return "".join(w.capitalize() if w not in ("EVSE", "EV") else w for w in s.name.split("_"))


# -- singletons ----------------------------------------------------------------------------
@st.cache_resource
def site_store() -> SiteStore:
    """The live site (EV_STATE_DIR/site.json, else data/site.json)."""
    return SiteStore()


@st.cache_resource
def kiosk() -> Kiosk:
    """The kiosk service over the live site and the session book."""
    return Kiosk(site_store(), SessionBook())


@dataclass
class Chain:
    """The ledger singleton and what the app knows about it."""

    ledger: Any | None = None
    error: str | None = None
    synced: Site | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def mode(self) -> str:
        if os.environ.get("EV_CHAIN", "").strip().lower() == "off":
            return "off"
        if self.ledger is None:
            return "unavailable"
        return str(getattr(self.ledger, "mode", "?"))


@st.cache_resource(show_spinner="Starting the chain (compiling and deploying the contracts)...")
def chain() -> Chain:
    """Connect the ledger once per process (errors are kept and shown, not raised)."""
    if os.environ.get("EV_CHAIN", "").strip().lower() == "off":
        return Chain()
    try:
        from contracts.ledger import Ledger

        return Chain(ledger=Ledger.connect())
    except Exception as exc:  # noqa: BLE001 - any connection failure is shown in the sidebar
        return Chain(error=f"{type(exc).__name__}: {exc}")


def ensure_synced(site: Site) -> Chain:
    """Write the site to the chain if the chain does not hold this version yet (progress shown)."""
    ch = chain()
    if ch.ledger is None or ch.synced == site:
        return ch
    with ch.lock:
        if ch.synced == site:
            return ch
        with st.status("Writing the site's cabinets and assets to the registry (SC1)...", expanded=True) as box:
            bar = st.progress(0.0, text="checking the registry")

            def progress(done: int, total: int) -> None:
                bar.progress(min(1.0, done / max(total, 1)), text=f"{done} / {total} transactions")

            try:
                receipts = ch.ledger.sync_site(site, progress=progress)
            except Exception as exc:  # noqa: BLE001
                ch.error = f"sync failed: {exc}"
                box.update(label=f"Could not write the site on chain: {exc}", state="error")
                return ch
            ch.synced = site
            ch.error = None
            box.update(label=f"Site on chain: {len(receipts)} transactions", state="complete", expanded=False)
    return ch


def mark_synced(site: Site) -> None:
    """Record that the chain now holds ``site`` (after an edit was written explicitly)."""
    ch = chain()
    with ch.lock:
        ch.synced = site


def chain_status(asset_id: str) -> StatusReport | None:
    """The asset's last status on chain (None without a chain or status)."""
    ch = chain()
    if ch.ledger is None:
        return None
    try:
        return ch.ledger.get_status(asset_id)
    except Exception:  # noqa: BLE001
        return None


def chain_statuses(asset_ids: list[str]) -> dict[str, StatusReport | None]:
    """Last statuses on chain of many assets in one read ({} without a chain)."""
    ch = chain()
    if ch.ledger is None:
        return {}
    try:
        return dict(ch.ledger.get_statuses(asset_ids))
    except Exception:  # noqa: BLE001 - shown as Available
        return {}


def post_statuses(reports: list[StatusReport]) -> list[Any]:
    """Post statuses on SC2; returns receipts ([] without a chain). Raises LedgerError."""
    ch = chain()
    if ch.ledger is None or not reports:
        return []
    with ch.lock:
        return list(ch.ledger.post_statuses(reports))


def refresh_statuses(k: Kiosk, now: Any) -> int:
    """Post the kiosk sessions' statuses that changed since they were last put on chain."""
    ch = chain()
    cps = k.cps_with_sessions()
    if ch.ledger is None or not cps:
        return 0
    try:
        changes = k.status_changes(now, chain_statuses(cps))
        post_statuses(changes)
    except Exception:  # noqa: BLE001 - a status refresh must never break a page
        return 0
    return len(changes)


# -- sidebar -------------------------------------------------------------------------------
def cpo_nav(sections: dict[str, list[Any]]) -> None:
    """The CPO's page links in the sidebar, by section (streamlit's own page list is off)."""
    with st.sidebar:
        for header, pages in sections.items():
            st.caption(header)
            for p in pages:
                st.page_link(p, label=p.title)
        st.divider()


def cpo_sidebar(site: Site) -> None:
    """Site name, the site's clock, chain mode and whether the chain answers."""
    ch = chain()
    with st.sidebar:
        st.markdown(f"### {site.name}")
        now = site_now(site.timezone)
        st.caption(f"Site clock: **{now:%a %d %b %Y, %H:%M}** ({site.timezone})")
        if ch.ledger is not None:
            try:
                alive = bool(ch.ledger.ping())
            except Exception:  # noqa: BLE001
                alive = False
            where = getattr(ch.ledger, "rpc_url", None) if ch.mode == "rpc" else "in-process eth-tester"
            st.caption(f"Chain: **{ch.mode}** ({where}), chain id {getattr(ch.ledger, 'chain_id', '?')}")
            (st.success if alive else st.error)("chain answers" if alive else "chain does not answer")
        elif ch.mode == "off":
            st.caption("Chain: **off** (EV_CHAIN=off)")
        else:
            st.error(f"Chain unavailable: {ch.error}")
        store = site_store()
        st.caption("Site file: " + ("edited (state folder)" if store.edited else "shipped sample (data/site.json)"))
