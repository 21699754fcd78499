"""A whole day of the sample site's 54 charge points over OCPP 1.6J on loopback, through the port."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.site.model import load_site
from gateway.ocpp16.day import reference_day, run_day, synthetic_cars
from gateway.ocpp16.port import OcppChargers
from gateway.ocpp16.profiles import from_unit, to_unit


@pytest.mark.slow
def test_a_day_of_54_charge_points_matches_bare_car_physics(tmp_path):
    site = load_site("data/site.json")
    assert len(site.charge_points) == 54
    tz = ZoneInfo(site.timezone)
    start = datetime(2026, 3, 2, tzinfo=tz)
    arrivals = synthetic_cars(site, start, seed=7)
    volts = float(site.extra["voltage_v"])
    amps = {a.id for a in site.charge_points[::6]}  # every sixth takes its profiles in amperes

    def limit_of(cp: str, kw: float) -> float:
        u = "A" if cp in amps else "W"
        return from_unit(to_unit(kw, u, voltage_v=volts, phases=1), u, voltage_v=volts, phases=1)

    ref = reference_day(site, arrivals, start=start, limit_of=limit_of)  # before the cars are used
    clock = [start]
    port = OcppChargers(site, port=0, state_dir=tmp_path, simulate=True, clock=lambda: clock[0], sim_units={c: "A" for c in amps})
    try:
        res = run_day(port, site, arrivals, start=start, clock=clock)
        conns = port.connections()
    finally:
        port.close()
    assert res.steps == 288
    kinds = Counter(e.kind for e in res.events)
    assert kinds["plugged"] == kinds["unplugged"] == len(arrivals) > 54
    assert kinds["connected"] == 54 and kinds["disconnected"] == 0
    assert kinds["noncompliant"] == kinds["fault"] == 0
    assert port.ocpp_errors == 0
    assert port.ocpp_messages > 10 * res.steps
    assert all(c.connected for c in conns.values())
    assert {c.unit for cp, c in conns.items() if cp in amps} == {"A"}
    assert res.peak_over_kw <= 1e-9  # no cabinet above its threshold at any read
    assert set(res.energy_kwh) == set(ref)
    for sid, kwh in ref.items():
        # the register to the uWh; StopTransaction's transactionData beats meterStop's whole Wh
        assert res.energy_kwh[sid] == pytest.approx(kwh, abs=1e-6), sid
    assert sum(ref.values()) > 500
