"""A saved site that went bad, and site edits the chain or the map would not take (#10 item 8, #9 item 4).

* a truncated ``state/site.json``, a bogus ``timezone`` or an unknown PV ``profile`` is refused at
  load naming the field, the store keeps serving the last good site and says what went wrong;
* a threshold of 0 (or above 100 MW) and a move far from the site (to 0, 0; over 10 km) are refused.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.kiosk import Kiosk
from engine.runtime.clock import SteppableClock
from engine.runtime.journal import Journal
from engine.runtime.simulator import SimulatedChargers
from engine.runtime.site_runtime import SiteRuntime
from engine.site.model import MAX_DISTANCE_KM, SiteError, distance_km, load_site, site_from_dict, site_to_dict
from engine.site.store import DEFAULT_SITE, SiteStore

NOW = datetime(2026, 5, 6, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def shipped() -> dict:
    return json.loads(DEFAULT_SITE.read_text())


def _index(d: dict, asset_id: str) -> int:
    return next(i for i, a in enumerate(d["assets"]) if a["id"] == asset_id)


# -- validation at load -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d.update(timezone="Mars/Olympus_Mons"), "timezone"),
        (lambda d: d.update(timezone=""), "timezone"),
        (lambda d: d["assets"][_index(d, "PV-N1")].update(profile="pv_moon"), "assets[{PV-N1}].profile"),
        (lambda d: d["assets"][_index(d, "LIGHT-1")].update(profile="pv_serf"), "assets[{LIGHT-1}].profile"),
        (lambda d: d["assets"][0].update(profile="elevator"), "assets[0].profile"),
        (lambda d: d["cabinets"][2].update(threshold_kw=0), "cabinets[2].threshold_kw"),
        (lambda d: d["cabinets"][2].update(threshold_kw=1e9), "cabinets[2].threshold_kw"),
        (lambda d: d["cabinets"][2].update(threshold_kw=10**400), "cabinets[2].threshold_kw"),
        (lambda d: d["assets"][3].update(lat=0.0, lon=0.0), "assets[3].lat"),
        (lambda d: d["cabinets"][1].update(lon=-117.0), "cabinets[1].lon"),
        (lambda d: d["assets"][0].update(rated_kw=1e9), "assets[0].rated_kw"),
    ],
    ids=["bogus-timezone", "empty-timezone", "unknown-pv-profile", "load-with-pv-profile", "charge-point-profile",
         "zero-threshold", "huge-threshold", "overflowing-threshold", "asset-at-0-0", "cabinet-far-east", "huge-rating"],
)
def test_bad_site_fields_are_named_at_load(tmp_path: Path, mutate, field: str) -> None:
    d = shipped()
    if "{" in field:  # the asset's index in the shipped file
        aid = field[field.index("{") + 1:field.index("}")]
        field = field.replace("{" + aid + "}", str(_index(d, aid)))
    mutate(d)
    p = tmp_path / "site.json"
    p.write_text(json.dumps(d))
    with pytest.raises(SiteError) as err:
        load_site(p)
    assert str(err.value).startswith(field + ":"), str(err.value)


@pytest.mark.parametrize(
    "content,expected",
    [(lambda text: text[: len(text) // 2], "site: malformed JSON"),
     (lambda text: "", "site: malformed JSON"),
     (lambda text: text.replace('"name"', '"name" ', 1).encode("utf-16").decode("latin-1"), "site:"),
     (lambda text: "[" * 100_000, "site: malformed JSON")],
    ids=["truncated", "empty", "not-utf8", "deep"],
)
def test_an_unreadable_site_file_is_a_site_error(tmp_path: Path, content, expected: str) -> None:
    p = tmp_path / "site.json"
    p.write_text(content(DEFAULT_SITE.read_text()), encoding="latin-1")
    with pytest.raises(SiteError, match=f"^{expected}"):
        load_site(p)


# -- the store keeps the last good site ---------------------------------------------------------


def test_a_truncated_saved_site_falls_back_to_the_last_good_one(tmp_path: Path) -> None:
    store = SiteStore(tmp_path)
    store.update(lambda s: s.with_threshold("CC-POD", 12.5))
    assert store.problem is None and store.good_path.exists()
    text = store.path.read_text()
    store.path.write_text(text[: len(text) // 2])  # a crash or a full disk while someone wrote it

    site = store.site()
    assert site.cabinet("CC-POD").threshold_kw == 12.5  # the last good edit, not the shipped 16.64
    problem = store.problem
    assert problem is not None
    assert "site.json cannot be used (site: malformed JSON" in problem and "last good copy" in problem
    assert store.bad_path.read_text() == text[: len(text) // 2]  # kept for the CPO to look at
    assert SiteStore(tmp_path).site().cabinet("CC-POD").threshold_kw == 12.5  # after a restart too

    store.update(lambda s: s.with_threshold("CC-POD", 13.0))  # the next edit replaces the bad file
    assert store.problem is None
    assert load_site(store.path).cabinet("CC-POD").threshold_kw == 13.0


@pytest.mark.parametrize(
    "mutate,field",
    [(lambda d: d.update(timezone="Mars/Olympus_Mons"), "timezone"),
     (lambda d: d["assets"][_index(d, "PV-N1")].update(profile="pv_moon"), ".profile")],
    ids=["bogus-timezone", "unknown-pv-profile"],
)
def test_a_hand_edited_bad_site_without_a_good_copy_falls_back_to_the_shipped_one(tmp_path: Path, mutate, field) -> None:
    d = shipped()
    d["cabinets"][0]["threshold_kw"] = 11.0
    mutate(d)
    (tmp_path / "site.json").write_text(json.dumps(d))
    store = SiteStore(tmp_path)
    site = store.site()
    assert site == load_site(DEFAULT_SITE)
    assert store.problem is not None and field in store.problem and "shipped site" in store.problem
    # the kiosk still quotes (it used to raise on every page)
    kiosk = Kiosk(SiteRuntime(store.site, Journal(tmp_path), SimulatedChargers(store.site()), SteppableClock(NOW)))
    q = kiosk.quote("CA-303", NOW + timedelta(hours=3), 10.0, NOW)
    assert q.feasible


def test_reset_forgets_the_good_copy_and_the_problem(tmp_path: Path) -> None:
    store = SiteStore(tmp_path)
    store.update(lambda s: s.with_threshold("CC-POD", 12.5))
    store.path.write_text("{")
    assert store.problem is not None
    store.reset()
    assert store.problem is None and not store.good_path.exists()
    assert store.site().cabinet("CC-POD").threshold_kw == pytest.approx(16.64)


# -- edits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "threshold,message",
    [(0, "must be > 0"), (-3, "must be > 0"), (1e9, "must be <= 100000"), (float("nan"), "must be a finite number"),
     (True, "must be a number")],
)
def test_a_threshold_must_be_positive_and_sane(threshold, message: str) -> None:
    site = load_site(DEFAULT_SITE)
    with pytest.raises(SiteError, match=rf"^cabinets\[0\]\.threshold_kw: {message}"):
        site.with_threshold("CC-POD", threshold)
    assert site.with_threshold("CC-POD", 100_000).cabinet("CC-POD").threshold_kw == 100_000


def test_a_move_must_stay_near_the_site() -> None:
    site = load_site(DEFAULT_SITE)
    i = next(k for k, a in enumerate(site.assets) if a.id == "CA-303")
    with pytest.raises(SiteError, match=rf"^assets\[{i}\]\.lat: \(0, 0\) is 1[0-9],[0-9]{{3}}\.[0-9] km from the site's centre"):
        site.with_asset_moved("CA-303", lat=0.0, lon=0.0)
    with pytest.raises(SiteError, match=rf"^assets\[{i}\]\.lon:"):
        site.with_asset_moved("CA-303", lon=site.lon + 0.2)  # 18 km east
    with pytest.raises(SiteError, match=rf"^assets\[{i}\]\.lat:"):
        site.with_asset_moved("CA-303", lat=site.lat - 0.1)  # 11 km south
    moved = site.with_asset_moved("CA-303", lat=site.lat + 0.001, lon=site.lon - 0.001)  # about 140 m
    assert moved.asset("CA-303").lat == pytest.approx(site.lat + 0.001)
    far = site.lat + 0.999 * MAX_DISTANCE_KM / 111.2
    assert distance_km(site.lat, site.lon, far, site.lon) < MAX_DISTANCE_KM
    assert site.with_asset_moved("CA-303", lat=far).asset("CA-303").lat == far


def test_a_cabinet_moved_away_is_refused() -> None:
    site = load_site(DEFAULT_SITE)
    cab = site.cabinet("AV-POD")
    from dataclasses import replace

    with pytest.raises(SiteError, match=r"^cabinets\[1\]\.lat:"):
        site.with_cabinet(replace(cab, lat=0.0, lon=0.0))


def test_distance_km() -> None:
    assert distance_km(0, 0, 0, 0) == 0
    assert distance_km(0, 0, 1, 0) == pytest.approx(111.19, rel=1e-3)
    assert distance_km(34.137, -118.125, 0, 0) == pytest.approx(12_570, rel=0.01)


def test_the_shipped_site_round_trips() -> None:
    site = load_site(DEFAULT_SITE)
    assert site_from_dict(site_to_dict(site)) == site


@pytest.mark.parametrize(
    "prices,message",
    [(10**400, "prices: must be a finite number"), ([10**400] * 8, "prices: must be a number or 8 finite numbers"),
     ("x", "prices: must be a number or 8"), (-1, "prices: must be >= 0"), ([0.1] * 7 + [-0.1], r"prices\[7\]: must be >= 0")],
)
def test_bad_prices_for_a_group_are_named(prices, message: str) -> None:
    from engine.site.to_scenario import scenario_for_group

    with pytest.raises(SiteError, match=f"^{message}"):
        scenario_for_group(load_site(DEFAULT_SITE), "AB-PANEL", start=NOW, horizon_steps=8, step_minutes=15, prices=prices)
