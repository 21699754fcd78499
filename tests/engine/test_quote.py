"""Quotes (engine spec, "Quote")."""
from __future__ import annotations

from typing import Any

import pytest

import engine
import engine.optimize.quote
from engine import ScenarioError, SessionSpec, parse_scenario, quote, quote_max_kwh


def site(sessions: list[dict[str, Any]], *, T: int = 10, threshold: Any = 7.0, request: dict[str, Any] | None = None,
         other: list[float] | None = None) -> engine.Scenario:
    cab: dict[str, Any] = {"id": "A", "threshold_kw": threshold}
    if other is not None:
        cab["other_load_kw"] = other
    d: dict[str, Any] = {
        "step_minutes": 60,
        "horizon_steps": T,
        "cabinets": [cab, {"id": "B", "threshold_kw": 100.0}],
        "charge_points": [{"id": f"cp{i}", "cabinet": "A", "rated_kw": 7.0} for i in range(1, 5)]
        + [{"id": "far", "cabinet": "B", "rated_kw": 7.0}],
        "sessions": sessions,
    }
    if request is not None:
        d["request"] = request
    return parse_scenario(d)


G1 = {"id": "g1", "cp": "cp1", "arrival_step": 0, "departure_step": 4, "energy_kwh": 14.0, "guaranteed": True}
REQ = {"id": "new", "cp": "cp2", "arrival_step": 0, "departure_step": 4, "energy_kwh": 20.0}


def test_quote_max_and_earliest_departure() -> None:
    # 7 kW x 4 h = 28 kWh, 14 promised to g1 -> 14 for the request by step 4;
    # afterwards 7 kWh per hour: 20 kWh by departure step 5.
    q = quote(site([G1], request=REQ))
    assert q.max_kwh == pytest.approx(14.0, abs=1e-6)
    assert q.feasible is False
    assert q.earliest_departure_step == 5
    d = q.to_dict()
    assert set(d) >= {"feasible", "max_kwh", "earliest_departure_step", "solve_seconds"}
    assert d["earliest_departure_step"] == 5 and d["solve_seconds"] > 0


def test_feasible_quote_and_its_earliest_departure() -> None:
    req = dict(REQ, energy_kwh=10.0, departure_step=9)
    q = quote(site([G1], request=req))
    assert q.feasible and q.max_kwh == pytest.approx(10.0, abs=1e-9)
    # g1 can wait: it gets its 14 kWh at steps 2-3, the request 7 + 3 kWh at steps 0-1
    assert q.earliest_departure_step == 2


def test_non_guaranteed_sessions_do_not_reduce_the_quote() -> None:
    free = {"id": "f", "cp": "cp3", "arrival_step": 0, "departure_step": 10, "energy_kwh": 70.0}
    q0 = quote(site([G1], request=REQ))
    q1 = quote(site([G1, free], request=REQ))
    assert q1.max_kwh == pytest.approx(q0.max_kwh, abs=1e-6)
    assert q1.earliest_departure_step == q0.earliest_departure_step


def test_other_cabinets_do_not_matter() -> None:
    far = {"id": "x", "cp": "far", "arrival_step": 0, "departure_step": 10, "energy_kwh": 70.0, "guaranteed": True}
    assert quote(site([G1, far], request=REQ)).max_kwh == pytest.approx(14.0, abs=1e-6)


def test_quote_keeps_the_unavoidable_overload_at_its_minimum() -> None:
    other = [9.0, 9.0] + [0.0] * 8  # over the 7 kW threshold at steps 0-1 whatever the EVs do
    req = dict(REQ, departure_step=3, energy_kwh=10.0)
    q = quote(site([], request=req, other=other))
    assert q.max_kwh == pytest.approx(7.0, abs=1e-6)  # only step 2 is usable
    assert q.earliest_departure_step == 4


def test_request_that_can_never_be_met() -> None:
    req = dict(REQ, energy_kwh=100.0, departure_step=8)
    q = quote(site([], request=req))
    assert q.max_kwh == pytest.approx(56.0, abs=1e-6)
    assert not q.feasible and q.earliest_departure_step is None


def test_request_starting_after_the_horizon() -> None:
    req = dict(REQ, arrival_step=12, departure_step=14)
    q = quote(site([], request=req))
    assert q.max_kwh == 0.0 and not q.feasible and q.earliest_departure_step is None


def test_zero_energy_request() -> None:
    q = quote(site([], request=dict(REQ, energy_kwh=0.0, arrival_step=2)))
    assert q.feasible and q.max_kwh == 0.0 and q.earliest_departure_step == 3


def test_infeasible_guarantees_keep_their_stage1_total() -> None:
    g2 = dict(G1, id="g2", cp="cp3", energy_kwh=20.0)  # 14 + 20 > 28: not all guarantees fit
    q = quote(site([G1, g2], request=REQ))
    assert q.guarantees_met is False
    assert q.max_kwh == pytest.approx(0.0, abs=1e-6)  # all 28 kWh go to the guarantees
    assert q.earliest_departure_step == 7  # after step 4 the request gets 7 kW (g1/g2 windows end)


def test_quote_max_kwh_and_the_function_from_engine() -> None:
    sc = site([G1], request=REQ)
    assert quote_max_kwh(sc) == pytest.approx(14.0, abs=1e-6)
    req = SessionSpec("k", "cp3", 0, 4, 3.0)
    assert engine.quote(sc, req).feasible  # engine.quote is the function ...
    assert engine.optimize.quote.quote(sc, req).max_kwh == pytest.approx(3.0)  # ... of engine.optimize.quote


def test_request_errors() -> None:
    sc = site([G1])
    with pytest.raises(ScenarioError, match=r"^request: required"):
        quote(sc)
    with pytest.raises(ScenarioError, match=r"^request\.cp: charge point 'cp1' is busy"):
        quote(sc, SessionSpec("n", "cp1", 3, 6, 5.0))
    with pytest.raises(ScenarioError, match=r"^request\.cp: unknown charge point"):
        quote(sc, SessionSpec("n", "zz", 3, 6, 5.0))
    with pytest.raises(ScenarioError, match=r"^request\.departure_step"):
        quote(sc, SessionSpec("n", "cp2", 6, 6, 5.0))
    # touching the busy window is fine
    assert quote(sc, SessionSpec("n", "cp1", 4, 6, 5.0)).feasible


def test_quote_is_fast_on_a_50_session_cabinet() -> None:
    """Behaviour only: the quote answers on a realistic 50-session day (timing is benched)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from engine_bench import make_scenario

    d = make_scenario(50, 1, seed=11, guaranteed=True, threshold_kw=80.0)
    d["charge_points"].append({"id": "KIOSK", "cabinet": "POD-A", "rated_kw": 6.6})
    sc = parse_scenario(d)
    q = quote(sc, SessionSpec("new", "KIOSK", 120, 180, 25.0))
    assert q.feasible and q.earliest_departure_step is not None and q.earliest_departure_step <= 180
