"""Build and start the live site's runtime as the app (or any long-running process) needs it.

:func:`start_runtime` reads the settings from the environment:

* ``EV_STATE_DIR`` - the state folder (journal, simulated cars); a journal SQLite cannot read is
  set aside and a new one started (:meth:`Journal.open_or_set_aside`), the CPO is told;
* ``EV_CHARGERS`` - ``sim`` (default) or ``ocpp`` (see :mod:`engine.chargers`);
* ``EV_NOW`` / ``EV_CLOCK_SPEED`` - the site clock (:func:`engine.runtime.clock.clock_from_env`).
  An accelerated clock resumes where the journal's last tick left it, so a restart never
  moves the site's time backwards under open sessions.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from engine.chargers import make_chargers
from engine.files import state_dir
from engine.ledger import LedgerPort
from engine.runtime.clock import clock_from_env
from engine.runtime.journal import Journal
from engine.runtime.site_runtime import SiteRuntime
from engine.site.store import SiteStore

__all__ = ["build_runtime", "start_runtime"]


def build_runtime(store: SiteStore, ledger: LedgerPort | None, *, environ: dict[str, str] | None = None,
                  **charger_options: Any) -> SiteRuntime:
    """The runtime of ``store``'s site, not started."""
    env = dict(os.environ if environ is None else environ)
    site = store.site()
    journal = Journal.open_or_set_aside(store.folder if store.folder else state_dir())
    clock = clock_from_env(site.timezone, env)
    last = journal.get_meta("last_tick")
    if last and clock.speed not in (0.0, 1.0):
        t = datetime.fromisoformat(last)
        if t > clock.now():
            clock.resume_from(t)
    kind = (env.get("EV_CHARGERS") or "sim").strip().lower()
    state = journal.get_meta("sim_state") if kind == "sim" else None
    chargers = make_chargers(kind, site=site, state=state, clock=clock.now, state_dir=journal.folder,
                             **charger_options)
    return SiteRuntime(store.site, journal, chargers, clock, ledger, plug_on_booking=(kind == "sim"))


def start_runtime(store: SiteStore, ledger: LedgerPort | None, **kwargs: Any) -> SiteRuntime:
    """Build the runtime and start its loop and outbox threads."""
    rt = build_runtime(store, ledger, **kwargs)
    rt.start()
    return rt
