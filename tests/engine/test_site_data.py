"""The shipped sample site data/site.json: loads, is the real Caltech ACN topology, is plausible."""
from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

from engine.site.model import AssetKind, SiteError, load_site, site_from_dict

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "data" / "site.json"
POD_KW = 80 * 208 / 1000


@pytest.fixture(scope="module")
def site():
    return load_site(SITE)


def _dist_m(a, b) -> float:
    dy = (a.lat - b.lat) * 111_320
    dx = (a.lon - b.lon) * 111_320 * math.cos(math.radians(a.lat))
    return math.hypot(dx, dy)


def test_real_evse_ids(site):
    cps = site.charge_points
    assert len(cps) == 54
    assert len({a.id for a in cps}) == 54
    assert all(re.fullmatch(r"CA-\d{3}", a.id) for a in cps)
    assert {"CA-303", "CA-322", "CA-148", "CA-213", "CA-502"} <= {a.id for a in cps}
    for a in cps:
        assert a.rated_kw == pytest.approx(6.656)
        assert 0.05 <= a.price_per_kwh <= 0.5


def test_pods_and_line_pairs(site):
    groups = {g.cabinet.id: g for g in site.groups()}
    for pod, first in (("CC-POD", "CA-322"), ("AV-POD", "CA-324")):
        g = groups[pod]
        assert len(g.charge_points) == 8
        assert first in {a.id for a in g.charge_points}
        assert g.cabinet.threshold_kw == pytest.approx(POD_KW, abs=0.01)
    assert groups["AB-PANEL"].cabinet.threshold_kw == pytest.approx(50 - 2 * POD_KW, abs=0.01)
    line_pair = [g for cid, g in groups.items() if not cid.endswith("POD")]
    assert sum(len(g.charge_points) for g in line_pair) == 38
    # B-C and C-A each have two 25 kW cabinets: 50 kW per line pair
    for prefix in ("BC-", "CA-"):
        assert sum(g.cabinet.threshold_kw for cid, g in groups.items() if cid.startswith(prefix)) == pytest.approx(50)


def test_every_kind_of_group_exists(site):
    kinds = set()
    for g in site.groups():
        assert g.charge_points, g.cabinet.id
        kinds.add((bool(g.pv_inverters), bool(g.batteries), bool(g.loads)))
    assert (False, False, False) in kinds  # CPs only
    assert any(pv and not b for pv, b, _ in kinds)  # CPs + PV
    assert any(b for _, b, _ in kinds)  # CPs + battery
    assert any(ld and not pv for pv, _, ld in kinds)  # CPs + other load
    assert len(site.assets_of(AssetKind.BATTERY)) == 1
    bat = site.assets_of(AssetKind.BATTERY)[0]
    assert bat.capacity_kwh > 0 and 0 < bat.efficiency <= 1 and bat.min_soc <= bat.initial_soc
    profiles = {a.profile for a in site.assets if a.kind in (AssetKind.PV_INVERTER, AssetKind.OTHER_LOAD)}
    assert profiles == {"pv_citylearn", "pv_serf", "lighting", "ventilation", "elevator"}


def test_layout_is_a_garage_deck(site):
    assert site.lat == pytest.approx(34.137, abs=0.002)
    assert site.lon == pytest.approx(-118.125, abs=0.002)
    assert site.timezone == "America/Los_Angeles"
    for a in site.assets:
        assert _dist_m(a, site.cabinet(a.cabinet)) < 45, a.id  # cabinets near their rows
    cps = site.charge_points
    for i, a in enumerate(cps):
        for b in cps[i + 1:]:
            assert _dist_m(a, b) > 2.0, (a.id, b.id)  # a few metres apart
    for c in site.cabinets:
        assert len(c.name.encode()) <= 64 and len(c.id.encode()) <= 64


def test_round_trip_and_bad_fields_named():
    d = json.loads(SITE.read_text())
    site_from_dict(d)
    bad = copy.deepcopy(d)
    bad["cabinets"][2]["threshold_kw"] = -1
    with pytest.raises(SiteError, match=r"cabinets\[2\]\.threshold_kw"):
        site_from_dict(bad)
    bad = copy.deepcopy(d)
    bad["assets"][5]["cabinet"] = "NOPE"
    with pytest.raises(SiteError, match=r"assets\[5\]\.cabinet"):
        site_from_dict(bad)
    bad = copy.deepcopy(d)
    bad["assets"][0]["lat"] = 123
    with pytest.raises(SiteError, match=r"assets\[0\]\.lat"):
        site_from_dict(bad)
