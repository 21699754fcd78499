"""engine.site.to_scenario: a site group + its sessions -> the engine's Scenario."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.site.profiles import per_unit, price_per_kwh
from engine.optimize.scenario import SessionSpec
from engine.site.model import SiteError, load_site
from engine.site.to_scenario import group_table, scenario_for_group, scenario_for_site

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("America/Los_Angeles")
START = datetime(2019, 5, 6, 6, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def site():
    return load_site(ROOT / "data" / "site.json")


def _s(i, cp, a=0, d=40, e=10.0):
    return SessionSpec(id=f"s{i}", cp=cp, arrival_step=a, departure_step=d, energy_kwh=e)


def test_battery_group(site):
    sc = scenario_for_group(site, "BC-SOUTH", start=START, horizon_steps=96, step_minutes=15)
    (cab,) = sc.cabinets
    b = cab.battery
    assert (b.capacity_kwh, b.max_charge_kw, b.max_discharge_kw) == (60.0, 25.0, 25.0)
    assert b.energy_kwh == pytest.approx(30.0) and b.min_energy_kwh == pytest.approx(6.0)
    assert b.efficiency == pytest.approx(0.95)
    assert cab.threshold_kw == 25.0
    assert np.all(np.asarray(cab.pv_kw) == 0) and np.all(np.asarray(cab.other_load_kw) == 0)
    assert [cp.id for cp in sc.charge_points] == [a.id for a in site.group_of("CA-505").charge_points]
    assert sc.step_minutes == 15 and sc.horizon_steps == 96 and sc.start == START.isoformat()
    np.testing.assert_allclose(sc.price_per_kwh, price_per_kwh(START, 96, 15))
    sc2 = scenario_for_group(site, "BC-SOUTH", start=START, horizon_steps=4, step_minutes=15, battery_energy_kwh=50)
    assert sc2.cabinets[0].battery.energy_kwh == 50
    with pytest.raises(SiteError, match="^battery_energy_kwh"):
        scenario_for_group(site, "BC-SOUTH", start=START, horizon_steps=4, step_minutes=15, battery_energy_kwh=99)


def test_pv_and_load_groups(site):
    sc = scenario_for_group(site, "BC-NORTH", start=START, horizon_steps=96, step_minutes=15)
    np.testing.assert_allclose(sc.cabinets[0].pv_kw, 20.0 * per_unit("pv_citylearn", START, 96, 15))
    assert sc.cabinets[0].battery is None
    sc = scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=96, step_minutes=15)
    load = np.asarray(sc.cabinets[0].other_load_kw)
    expected = 2.5 * per_unit("lighting", START, 96, 15) + 3.5 * per_unit("ventilation", START, 96, 15)
    np.testing.assert_allclose(load, expected)
    sc = scenario_for_group(site, "CA-WEST", start=START, horizon_steps=96, step_minutes=15)
    assert np.asarray(sc.cabinets[0].pv_kw).max() > 0 and np.asarray(sc.cabinets[0].other_load_kw).min() > 0


def test_sessions_filtered_to_the_group(site):
    sessions = [_s(1, "CA-303"), _s(2, "CA-322"), _s(3, "CA-308")]
    sc = scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=48, step_minutes=15, sessions=sessions)
    assert [s.id for s in sc.sessions] == ["s1", "s3"]
    with pytest.raises(SiteError, match=r"^sessions\[1\]\.cp"):
        scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=48, step_minutes=15,
                           sessions=[_s(1, "CA-303"), _s(2, "XX-1")])
    with pytest.raises(SiteError, match="^cabinet"):
        scenario_for_group(site, "NOPE", start=START, horizon_steps=48, step_minutes=15)
    with pytest.raises(SiteError, match="^prices"):
        scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=48, step_minutes=15, prices=[0.1] * 3)
    with pytest.raises(SiteError, match="^horizon_steps"):
        scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=0, step_minutes=15)
    sc = scenario_for_group(site, "AB-PANEL", start=START, horizon_steps=8, step_minutes=15, prices=0.2)
    np.testing.assert_allclose(sc.price_per_kwh, 0.2)


def test_whole_site_and_edits_change_groups(site):
    sc = scenario_for_site(site, start=START, horizon_steps=24, step_minutes=60, sessions=[_s(1, "CA-303", d=10)])
    assert len(sc.cabinets) == 7 and len(sc.charge_points) == 54 and len(sc.sessions) == 1
    moved = site.with_asset_moved("CA-303", cabinet="CC-POD")
    sc = scenario_for_group(moved, "CC-POD", start=START, horizon_steps=24, step_minutes=60,
                            sessions=[_s(1, "CA-303", d=10)])
    assert "CA-303" in [cp.id for cp in sc.charge_points] and [s.id for s in sc.sessions] == ["s1"]
    rows = {r["cabinet"]: r for r in group_table(moved)}
    assert rows["CC-POD"]["charge_points"] == 9 and "CA-303" in rows["CC-POD"]["members"]
    assert rows["AB-PANEL"]["charge_points"] == 9
    assert rows["BC-SOUTH"]["battery_kwh"] == 60 and rows["BC-NORTH"]["pv_kwp"] == 20
    assert rows["AB-PANEL"]["other_load_kw"] == 6.0


def test_plan_runs_on_a_group(site):
    import engine

    sessions = [_s(i, cp.id, a=4 * i, d=4 * i + 20, e=8.0) for i, cp in enumerate(site.group_of("CA-505").charge_points)]
    sc = scenario_for_group(site, "BC-SOUTH", start=START, horizon_steps=96, step_minutes=15, sessions=sessions)
    plan = engine.plan(sc).to_dict()
    assert plan["status"] == "optimal"
    assert plan["totals"]["delivered_kwh"] == pytest.approx(8.0 * len(sessions), rel=1e-4)
    imp = np.asarray(plan["cabinets"][0]["grid_import_kw"])
    assert imp.max() <= 25.0 + 1e-4
