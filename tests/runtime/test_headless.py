"""engine.runtime.headless: a day of drivers through the kiosk and the runtime, and its figures."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.runtime.headless import Arrival, run_day
from engine.site.model import load_site
from engine.site.store import DEFAULT_SITE
from tests.runtime.conftest import TZ

DAY = date(2026, 5, 6)


def _at(h: float) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, tzinfo=TZ) + timedelta(hours=h)


def test_a_small_day_counts_promises_and_demands_met(tmp_path):
    """Three drivers on one cabinet: two ask what their stay allows, one asks 40 kWh in an hour
    (promised what an hour gives, not its demand); one leaves before the departure it stated
    (no promise to keep)."""
    arrivals = [
        Arrival("a", "CA-303", _at(8), _at(12), _at(12), 10.0),
        Arrival("b", "CA-308", _at(8), _at(9), _at(9), 40.0),
        Arrival("c", "CA-310", _at(9), _at(10), _at(13), 8.0),
    ]
    f = run_day(load_site(DEFAULT_SITE), DAY, state=tmp_path / "state", chain=False, arrivals=arrivals)
    assert f["sessions"] == f["booked"] == 3
    assert f["promises"] == 2 and f["promises_met"] == 2  # a and b; c left early
    assert f["demands_met"] == 1  # a only: b could not take 40 kWh in an hour, c left after 1 h of 4 (at most 6.7 kWh)
    assert f["overload_kwh"] == 0
