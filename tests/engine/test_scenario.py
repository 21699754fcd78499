"""Scenario parsing and validation (engine spec, "Scenario (JSON)")."""
from __future__ import annotations

import copy
import json
import math
from typing import Any, Callable

import numpy as np
import pytest

from engine.optimize.scenario import (
    BatterySpec,
    CabinetSpec,
    ChargePointSpec,
    Scenario,
    ScenarioError,
    SessionSpec,
)
from engine.optimize.scenario_json import load_scenario, parse_scenario, scenario_to_dict, validate_scenario

T = 12


def base() -> dict[str, Any]:
    """A small valid scenario: two cabinets, three charge points, three sessions."""
    return {
        "step_minutes": 60,
        "horizon_steps": T,
        "start": "2019-05-06T00:00:00-07:00",
        "price_per_kwh": [0.1] * T,
        "cabinets": [
            {
                "id": "POD-A",
                "threshold_kw": 20.0,
                "pv_kw": [0.0] * T,
                "other_load_kw": [1.0] * T,
                "battery": {
                    "capacity_kwh": 60,
                    "energy_kwh": 30,
                    "min_energy_kwh": 6,
                    "max_charge_kw": 20,
                    "max_discharge_kw": 20,
                    "efficiency": 0.95,
                },
            },
            {"id": "POD-B", "threshold_kw": [10.0] * T},
        ],
        "charge_points": [
            {"id": "CA-301", "cabinet": "POD-A", "rated_kw": 7.0},
            {"id": "CA-302", "cabinet": "POD-A", "rated_kw": 7.0},
            {"id": "CB-1", "cabinet": "POD-B", "rated_kw": 11.0},
        ],
        "sessions": [
            {"id": "s1", "cp": "CA-301", "arrival_step": 1, "departure_step": 6, "energy_kwh": 12.5, "max_kw": 6.6},
            {"id": "s2", "cp": "CA-301", "arrival_step": 6, "departure_step": 10, "energy_kwh": 5.0, "guaranteed": True},
            {"id": "s3", "cp": "CB-1", "arrival_step": 0, "departure_step": 12, "energy_kwh": 30.0},
        ],
        "request": {"id": "new", "cp": "CA-302", "arrival_step": 2, "departure_step": 8, "energy_kwh": 20},
    }


def test_valid_scenario_parses_with_full_length_arrays() -> None:
    s = parse_scenario(base())
    assert s.horizon_steps == T and s.dt_hours == 1.0
    assert [c.id for c in s.cabinets] == ["POD-A", "POD-B"]
    a, b = s.cabinets
    assert isinstance(a.threshold_kw, np.ndarray) and a.threshold_kw.shape == (T,)
    assert np.all(a.threshold_kw == 20.0)
    assert b.pv_kw is None and b.battery is None
    assert a.battery is not None and a.battery.efficiency == 0.95 and a.battery.min_energy_kwh == 6
    assert s.sessions[1].guaranteed is True and s.sessions[0].guaranteed is False
    assert s.sessions[0].max_kw == 6.6 and s.sessions[2].max_kw is None
    assert s.request is not None and s.request.cp == "CA-302"
    assert s.cabinet_of("CB-1") == "POD-B"


def test_defaults_and_optional_fields() -> None:
    d = base()
    del d["price_per_kwh"], d["start"], d["request"]
    del d["cabinets"][0]["battery"]["min_energy_kwh"], d["cabinets"][0]["battery"]["efficiency"]
    s = parse_scenario(d)
    assert np.all(s.prices() == 0.0)
    bat = s.cabinets[0].battery
    assert bat is not None and bat.min_energy_kwh == 0.0 and bat.efficiency == 1.0
    assert s.request is None


def test_extra_fields_are_allowed_and_kept() -> None:
    d = base()
    d["site"] = "Caltech"
    d["sessions"][0]["note"] = "x"
    d["cabinets"][1]["colour"] = "red"
    s = parse_scenario(d)
    assert s.extra == {"site": "Caltech"}
    assert scenario_to_dict(s)["site"] == "Caltech"


def test_round_trip() -> None:
    s = parse_scenario(base())
    d1 = scenario_to_dict(s)
    d2 = scenario_to_dict(parse_scenario(json.loads(json.dumps(d1))))
    assert d1 == d2
    assert d1["cabinets"][0]["threshold_kw"] == 20.0  # constant threshold written as a number
    assert d1["sessions"][1]["guaranteed"] is True


def test_hand_built_scenario_validates() -> None:
    s = Scenario(
        step_minutes=15,
        horizon_steps=4,
        cabinets=[CabinetSpec("A", 5.0, battery=BatterySpec(10, 5, 3, 3))],
        charge_points=[ChargePointSpec("c", "A", 7.0)],
        sessions=[SessionSpec("s", "c", 0, 4, 2.0)],
    )
    v = validate_scenario(s)
    assert v.cabinets[0].threshold_kw.shape == (4,)
    bad = Scenario(step_minutes=15, horizon_steps=4, cabinets=[CabinetSpec("A", [1.0, 2.0])])
    with pytest.raises(ScenarioError, match="scenario"):
        validate_scenario(bad)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutation:
    def f(d: dict[str, Any]) -> None:
        node: Any = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return f


def _del(path: list[Any]) -> Mutation:
    def f(d: dict[str, Any]) -> None:
        node: Any = d
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]

    return f


def _append_session(**kw: Any) -> Mutation:
    def f(d: dict[str, Any]) -> None:
        s = {"id": "extra", "cp": "CA-301", "arrival_step": 0, "departure_step": 2, "energy_kwh": 1.0}
        s.update(kw)
        d["sessions"].append(s)

    return f


BAD: list[tuple[str, Mutation, str]] = [
    ("negative energy", _set(["sessions", 0, "energy_kwh"], -1), "sessions[0].energy_kwh: must be >= 0"),
    ("NaN energy", _set(["sessions", 0, "energy_kwh"], math.nan), "sessions[0].energy_kwh: must be a finite number"),
    ("departure == arrival", _set(["sessions", 2, "departure_step"], 0), "sessions[2].departure_step: must be > arrival_step"),
    ("departure < arrival", _set(["sessions", 0, "departure_step"], 0), "sessions[0].departure_step: must be > arrival_step"),
    ("unknown charge point", _set(["sessions", 1, "cp"], "NOPE"), "sessions[1].cp: unknown charge point 'NOPE'"),
    ("unknown cabinet", _set(["charge_points", 2, "cabinet"], "POD-X"), "charge_points[2].cabinet: unknown cabinet 'POD-X'"),
    ("overlapping sessions", _append_session(id="s4", cp="CB-1", arrival_step=11, departure_step=13), "sessions[3].arrival_step: overlaps session 's3'"),
    ("request overlaps a session", _set(["request", "cp"], "CA-301"), "request.cp: charge point 'CA-301' is busy with session"),
    ("request id clashes", _set(["request", "id"], "s1"), "request.id: duplicate id 's1'"),
    ("request unknown cp", _set(["request", "cp"], "ZZ"), "request.cp: unknown charge point 'ZZ'"),
    ("request departure", _set(["request", "departure_step"], 2), "request.departure_step: must be > arrival_step"),
    ("pv wrong length", _set(["cabinets", 0, "pv_kw"], [0.0] * (T - 1)), "cabinets[0].pv_kw: must have horizon_steps = 12 entries"),
    ("price wrong length", _set(["price_per_kwh"], [0.1] * (T + 1)), "price_per_kwh: must have horizon_steps = 12 entries"),
    ("price negative", _set(["price_per_kwh", 3], -0.1), "price_per_kwh[3]: must be >= 0"),
    ("other load not a list", _set(["cabinets", 0, "other_load_kw"], "high"), "cabinets[0].other_load_kw: must be a list"),
    ("array entry not a number", _set(["cabinets", 0, "pv_kw", 4], "x"), "cabinets[0].pv_kw[4]: must be a number"),
    ("negative threshold", _set(["cabinets", 0, "threshold_kw"], -5), "cabinets[0].threshold_kw: must be >= 0"),
    ("negative threshold entry", _set(["cabinets", 1, "threshold_kw", 3], -1.0), "cabinets[1].threshold_kw[3]: must be >= 0"),
    ("threshold wrong length", _set(["cabinets", 1, "threshold_kw"], [1.0, 2.0]), "cabinets[1].threshold_kw: must have horizon_steps"),
    ("battery above capacity", _set(["cabinets", 0, "battery", "energy_kwh"], 61), "cabinets[0].battery.energy_kwh: must be <= capacity_kwh"),
    ("battery below min", _set(["cabinets", 0, "battery", "energy_kwh"], 5), "cabinets[0].battery.energy_kwh: must be >= min_energy_kwh"),
    ("min above capacity", _set(["cabinets", 0, "battery", "min_energy_kwh"], 70), "cabinets[0].battery.min_energy_kwh: must be <= capacity_kwh"),
    ("efficiency zero", _set(["cabinets", 0, "battery", "efficiency"], 0), "cabinets[0].battery.efficiency: must be in (0, 1]"),
    ("efficiency above one", _set(["cabinets", 0, "battery", "efficiency"], 1.2), "cabinets[0].battery.efficiency: must be in (0, 1]"),
    ("battery missing field", _del(["cabinets", 0, "battery", "capacity_kwh"]), "cabinets[0].battery.capacity_kwh: required"),
    ("battery not an object", _set(["cabinets", 0, "battery"], 5), "cabinets[0].battery: must be an object"),
    ("duplicate session id", _set(["sessions", 2, "id"], "s1"), "sessions[2].id: duplicate id 's1'"),
    ("duplicate charge point id", _set(["charge_points", 1, "id"], "CA-301"), "charge_points[1].id: duplicate id 'CA-301'"),
    ("duplicate cabinet id", _set(["cabinets", 1, "id"], "POD-A"), "cabinets[1].id: duplicate id 'POD-A'"),
    ("energy as text", _set(["sessions", 0, "energy_kwh"], "12"), "sessions[0].energy_kwh: must be a number, got str"),
    ("arrival not integral", _set(["sessions", 0, "arrival_step"], 1.5), "sessions[0].arrival_step: must be an integer"),
    ("arrival boolean", _set(["sessions", 0, "arrival_step"], True), "sessions[0].arrival_step: must be an integer"),
    ("guaranteed as text", _set(["sessions", 0, "guaranteed"], "yes"), "sessions[0].guaranteed: must be true or false"),
    ("max_kw zero", _set(["sessions", 0, "max_kw"], 0), "sessions[0].max_kw: must be > 0"),
    ("rated_kw negative", _set(["charge_points", 0, "rated_kw"], -7), "charge_points[0].rated_kw: must be > 0"),
    ("id empty", _set(["sessions", 0, "id"], " "), "sessions[0].id: must not be empty"),
    ("id not text", _set(["cabinets", 0, "id"], 7), "cabinets[0].id: must be a string"),
    ("cabinets not a list", _set(["cabinets"], {"id": "A"}), "cabinets: must be a list"),
    ("session not an object", _set(["sessions", 0], [1, 2]), "sessions[0]: must be an object"),
    ("missing step_minutes", _del(["step_minutes"]), "step_minutes: required"),
    ("zero step_minutes", _set(["step_minutes"], 0), "step_minutes: must be > 0"),
    ("missing horizon", _del(["horizon_steps"]), "horizon_steps: required"),
    ("horizon zero", _set(["horizon_steps"], 0), "horizon_steps: must be >= 1"),
    ("missing cabinets", _del(["cabinets"]), "cabinets: required"),
    ("missing charge_points", _del(["charge_points"]), "charge_points: required"),
    ("missing session cp", _del(["sessions", 0, "cp"]), "sessions[0].cp: required"),
    ("missing threshold", _del(["cabinets", 1, "threshold_kw"]), "cabinets[1].threshold_kw: required"),
    ("start not text", _set(["start"], 5), "start: must be a string"),
]


@pytest.mark.parametrize("mutate,expected", [(m, e) for _, m, e in BAD], ids=[n for n, _, _ in BAD])
def test_bad_field_is_named(mutate: Mutation, expected: str) -> None:
    d = copy.deepcopy(base())
    mutate(d)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(d)
    assert str(err.value).startswith(expected), str(err.value)
    assert isinstance(err.value, ValueError)
    assert err.value.field == str(err.value).split(":")[0]


def test_scenario_must_be_an_object() -> None:
    with pytest.raises(ScenarioError, match=r"^scenario: must be an object"):
        parse_scenario([1, 2])


def test_sessions_touching_on_one_charge_point_are_fine() -> None:
    d = base()
    d["sessions"].append({"id": "s4", "cp": "CA-301", "arrival_step": 10, "departure_step": 12, "energy_kwh": 1})
    assert len(parse_scenario(d).sessions) == 4


def test_windows_may_stick_out_of_the_horizon() -> None:
    d = base()
    d["sessions"][2]["arrival_step"] = -3
    d["sessions"][2]["departure_step"] = 40
    s = parse_scenario(d)
    assert s.sessions[2].arrival_step == -3 and s.sessions[2].departure_step == 40


def test_load_scenario_errors(tmp_path: Any) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario: file not found"):
        load_scenario(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"step_minutes": 5,,}')
    with pytest.raises(ScenarioError, match=r"^scenario: malformed JSON"):
        load_scenario(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base()))
    assert load_scenario(good).horizon_steps == T
