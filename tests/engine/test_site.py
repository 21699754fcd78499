"""The site model: loading, validation naming the field, groups and edits."""
from __future__ import annotations

import pytest

from engine.site.model import AssetKind, SiteError, load_site, save_site, site_from_dict, site_to_dict


def tiny() -> dict:
    return {
        "name": "Tiny",
        "timezone": "America/Los_Angeles",
        "cabinets": [
            {"id": "POD-A", "name": "Pod A", "lat": 34.137, "lon": -118.125, "threshold_kw": 20},
            {"id": "POD-B", "name": "Pod B", "lat": 34.1371, "lon": -118.1251, "threshold_kw": 30},
        ],
        "assets": [
            {"id": "CA-1", "kind": "charge_point", "cabinet": "POD-A", "lat": 34.137, "lon": -118.125,
             "rated_kw": 6.6, "price_per_kwh": 0.3},
            {"id": "CA-2", "kind": 1, "cabinet": "POD-A", "lat": 34.137, "lon": -118.125, "rated_kw": 6.6},
            {"id": "PV-1", "kind": "pv_inverter", "cabinet": "POD-B", "lat": 34.137, "lon": -118.125,
             "rated_kw": 20, "profile": "pv_citylearn"},
            {"id": "BAT-1", "kind": "battery", "cabinet": "POD-B", "lat": 34.137, "lon": -118.125,
             "rated_kw": 25, "capacity_kwh": 50, "efficiency": 0.95},
            {"id": "LD-1", "kind": "other_load", "cabinet": "POD-B", "lat": 34.137, "lon": -118.125,
             "rated_kw": 4},
        ],
    }


def test_groups_split_by_cabinet():
    site = site_from_dict(tiny())
    a, b = site.groups()
    assert [cp.id for cp in a.charge_points] == ["CA-1", "CA-2"]
    assert a.pv_kwp == 0 and b.pv_kwp == 20
    assert b.battery_kwh == 50 and b.other_load_kw == 4
    assert site.asset("CA-2").kind == AssetKind.CHARGE_POINT


def test_round_trip(tmp_path):
    site = site_from_dict(tiny())
    p = tmp_path / "site.json"
    save_site(site, p)
    assert load_site(p) == site
    assert site_to_dict(load_site(p))["assets"][0]["kind"] == "charge_point"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["cabinets"][1].update(threshold_kw=-1), "cabinets[1].threshold_kw"),
        (lambda d: d["assets"][1].update(cabinet="POD-X"), "assets[1].cabinet"),
        (lambda d: d["assets"][1].update(id="CA-1"), "assets[1].id"),
        (lambda d: d["assets"][0].update(lat=91), "assets[0].lat"),
        (lambda d: d["assets"][2].update(rated_kw=0), "assets[2].rated_kw"),
        (lambda d: d["assets"][3].update(capacity_kwh=0), "assets[3].capacity_kwh"),
        (lambda d: d["assets"][2].update(capacity_kwh=5), "assets[2].capacity_kwh"),
        (lambda d: d["assets"][4].update(price_per_kwh=1), "assets[4].price_per_kwh"),
        (lambda d: d["assets"][4].update(kind="spaceship"), "assets[4].kind"),
        (lambda d: d["assets"][0].update(rated_kw=float("nan")), "assets[0].rated_kw"),
        (lambda d: d["cabinets"][0].pop("threshold_kw"), "cabinets[0].threshold_kw"),
    ],
)
def test_bad_fields_are_named(mutate, field):
    d = tiny()
    mutate(d)
    with pytest.raises(SiteError) as err:
        site_from_dict(d)
    assert str(err.value).startswith(field + ":")


def test_malformed_json(tmp_path):
    p = tmp_path / "site.json"
    p.write_text("{not json")
    with pytest.raises(SiteError, match="^site: malformed JSON"):
        load_site(p)


def test_edits_change_groups_and_validate():
    site = site_from_dict(tiny())
    moved = site.with_asset_moved("CA-2", cabinet="POD-B")
    assert [cp.id for cp in moved.groups()[1].charge_points] == ["CA-2"]
    assert [cp.id for cp in site.groups()[1].charge_points] == []  # the original is untouched
    with pytest.raises(SiteError, match="cabinet"):
        site.with_asset_moved("CA-2", cabinet="NOPE")
    assert site.with_threshold("POD-A", 12.5).cabinet("POD-A").threshold_kw == 12.5
    with pytest.raises(SiteError, match="threshold_kw"):
        site.with_threshold("POD-A", -3)
