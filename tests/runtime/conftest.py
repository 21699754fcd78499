"""Fixtures: a runtime over the sample site with simulated chargers, a steppable clock and a
ledger double, in a private state folder."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.kiosk import Kiosk
from engine.runtime.clock import SteppableClock
from engine.runtime.journal import Journal
from engine.runtime.simulator import SimulatedChargers
from engine.runtime.site_runtime import SiteRuntime
from engine.site.store import SiteStore
from tests.runtime.fakes import FakeLedger

TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=TZ)


class Rig:
    """A runtime and its parts, rebuildable over the same folder (a restart)."""

    def __init__(self, folder, ledger=None, start=NOW, plug_on_booking=False):
        self.folder = folder
        self.store = SiteStore(folder)
        self.ledger = ledger if ledger is not None else FakeLedger()
        self.clock = SteppableClock(start)
        self.plug_on_booking = plug_on_booking
        self.boot()

    def boot(self):
        self.journal = Journal(self.folder)
        self.chargers = SimulatedChargers(self.store.site(), state=self.journal.get_meta("sim_state"))
        self.runtime = SiteRuntime(self.store.site, self.journal, self.chargers, self.clock, self.ledger,
                                   plug_on_booking=self.plug_on_booking)
        self.kiosk = Kiosk(self.runtime)

    def run(self, minutes, step=5, flush=True):
        """Tick every ``step`` minutes for ``minutes``."""
        for _ in range(int(minutes // step)):
            t = self.clock.advance(step * 60)
            self.runtime.tick(t)
            if flush:
                self.runtime.flush()

    def restart(self):
        self.runtime.close()
        self.journal.close()
        self.boot()


@pytest.fixture
def rig(tmp_path):
    """Cars plug in where the test says."""
    r = Rig(tmp_path / "state")
    r.runtime.tick(NOW)
    yield r
    r.runtime.close()
    r.journal.close()


@pytest.fixture
def kiosk_rig(tmp_path):
    """A booking at the kiosk plugs in the driver's (simulated) car, as in the app."""
    r = Rig(tmp_path / "state", plug_on_booking=True)
    r.runtime.tick(NOW)
    yield r
    r.runtime.close()
    r.journal.close()
