"""Shared UI helpers: the app's singletons (site store, chain service, runtime, kiosk) and the
CPO sidebar.

Not a page (app.py does not list it). One ``st.cache_resource`` per shared singleton; each is
thread-safe (streamlit runs every session's script in its own thread). The runtime
(``engine.runtime``) runs its control loop and its outbox in background threads started once;
pages only read from it and send it commands. The chain service (``contracts.service``) connects
lazily and is used by the runtime's outbox thread, so no page waits for the chain.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import streamlit as st

from contracts.service import ChainService
from engine.files import state_dir
from engine.kiosk import Kiosk
from engine.ledger import Status, StatusReport
from engine.runtime.app import start_runtime
from engine.runtime.site_runtime import SiteRuntime
from engine.site.model import Site
from engine.site.store import SiteStore

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


def power_of_rating(power_kw: float, rated_kw: float) -> str:
    """``6.656 of 6.656 kW (100 %)``: power with as many decimals as the rating shows (1 to 3),
    trailing zeros dropped (``4 of 6.656 kW (60 %)``).

    Rounding the power more coarsely than the rating would show a charge point at its rating as
    above it ("6.7 of 6.656 kW").
    """
    shown = f"{rated_kw:g}"
    d = min(3, max(1, len(shown.split(".")[1]) if "." in shown else 0))
    pct = f" ({int(round(100.0 * power_kw / rated_kw))} %)" if rated_kw > 0 else ""
    power = f"{power_kw:.{d}f}".rstrip("0").rstrip(".")  # 4.000 -> 4, 6.656 stays
    return f"{'0' if power in ('', '-0') else power} of {shown} kW{pct}"


# -- singletons ----------------------------------------------------------------------------
@st.cache_resource
def site_store() -> SiteStore:
    """The live site (EV_STATE_DIR/site.json, else data/site.json)."""
    return SiteStore()


@st.cache_resource
def chain() -> ChainService:
    """The process's chain service (connects lazily, retries, never caches a failure)."""
    store = site_store()
    return ChainService(store.site, state_dir(), enabled=os.environ.get("EV_CHAIN", "").strip().lower() != "off")


@st.cache_resource
def runtime() -> SiteRuntime:
    """The site's one runtime (control loop + outbox threads), started once per process."""
    return start_runtime(site_store(), chain())


@st.cache_resource
def kiosk() -> Kiosk:
    """The kiosk service over the site's runtime."""
    return Kiosk(runtime())


def now() -> datetime:
    """The site's clock (the runtime's: real, frozen by EV_NOW, or accelerated by EV_CLOCK_SPEED)."""
    return runtime().clock.now()


def chain_status(asset_id: str) -> StatusReport | None:
    """The asset's last status on chain (None without a chain or status)."""
    return chain().statuses([asset_id]).get(asset_id)


def chain_statuses(asset_ids: list[str]) -> dict[str, StatusReport | None]:
    """Last statuses on chain of many assets in one read ({} without a chain)."""
    return chain().statuses(asset_ids)


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
    """Site name, the site's clock, chain mode and whether it answers, the outbox, site-file problems."""
    ch = chain()
    rt = runtime()
    with st.sidebar:
        st.markdown(f"### {site.name}")
        t = rt.clock.now()
        speed = getattr(rt.clock, "speed", 1.0)
        extra = "" if speed == 1.0 else (" - frozen" if speed == 0 else f" - x{speed:g}")
        st.caption(f"Site clock: **{t:%a %d %b %Y, %H:%M}** ({site.timezone}){extra}")
        if ch.mode == "off":
            st.caption("Chain: **off** (EV_CHAIN=off)")
        elif ch.ledger is None:
            st.error(f"Chain unavailable: {ch.error or 'connecting...'}")
        else:
            where = getattr(ch.ledger, "rpc_url", None) if ch.mode == "rpc" else "in-process eth-tester"
            st.caption(f"Chain: **{ch.mode}** ({where}), chain id {getattr(ch.ledger, 'chain_id', '?')}")
            alive = ch.ping()
            (st.success if alive else st.error)("chain answers" if alive else "chain does not answer")
            if ch.syncing:
                st.info("Writing the site to the registry (SC1)...")
            elif ch.pending_edits:
                st.warning("Site edits pending: not yet on chain (retried automatically)")
        pending = rt.journal.pending_count()
        if pending:
            st.caption(f"Outbox: **{pending}** statuses waiting for the chain")
        store = site_store()
        if getattr(store, "problem", None):
            st.warning(store.problem)
        problems = rt.journal.problems()
        for text in problems:
            st.warning(text)
        if problems and st.button("Dismiss the journal's warnings", key="journal_problems_seen"):
            rt.journal.clear_problems()
            st.rerun()
        st.caption("Site file: " + ("edited (state folder)" if store.edited else "shipped sample (data/site.json)"))
