"""EV smart-charging engine: site model, LP scheduler, quotes, replay, live runtime.

Pure Python: never imports streamlit or web3. ``python -m engine --help`` is its CLI
(``plan``, ``quote``, ``replay``).

Scheduling API (the contract is ``docs/engine.md``)
-----------------------------------------------------
``parse_scenario(d) -> Scenario`` / ``load_scenario(path)`` / ``scenario_to_dict(s)``
    Read, validate and write the scenario JSON; a bad field raises
    ``ScenarioError`` (a ``ValueError``) whose text starts with the field path,
    e.g. ``sessions[3].departure_step: must be > arrival_step``.
``plan(scenario) -> Plan``
    Every cabinet through the lexicographic stages 0-5 (overload, guarantees, total
    energy, fairness, cost, then charge-early). Cabinets are solved in parallel
    threads (``workers=`` / env ``ENGINE_THREADS``). ``Plan.to_dict()`` is the spec's
    plan JSON; ``Plan.cabinet(id).stages`` holds every stage's optimum.

How it is solved (``engine.optimize.lp_model``, ``engine.optimize.planner``): one sparse LP per cabinet
on *blocks* of consecutive steps with identical data (no arrival, departure, price,
threshold, PV or load change inside; exact for stages 0-4), loaded once into HiGHS;
a weighted mix of all stages is solved first as a warm start, then every stage is
re-optimised exactly from the previous basis and pinned with one row (slack 1e-8
relative + 1e-8 absolute). Stage 5 charges as early as possible, across blocks by LP
and within blocks by front-loading.
``quote(scenario, request=None) -> Quote``
    May this request be met? ``Quote.to_dict()`` is the spec's quote JSON
    (``feasible``, ``max_kwh``, ``earliest_departure_step``, ``solve_seconds``).
    (``engine.quote`` is this function; its module is :mod:`engine.optimize.quote`.)
``quote_max_kwh(scenario, request=None) -> float``
    Only the quote's ``max_kwh`` (no earliest-departure search): the kiosk promise.

Cheap per-cabinet entry points (online re-planning, e.g. the MPC replay)
-----------------------------------------------------------------------
``plan_cabinet(scenario, cabinet_id, sessions=None, *, early=True) -> CabinetPlan``
    Plans one cabinet only, with the given sessions (default: the scenario's sessions
    on that cabinet); typically 5-40 ms for up to ~50 sessions. Build the scenario once per re-plan with a horizon that covers
    only the present cars' windows (``arrival_step`` may be negative or before step 0
    for cars already plugged in; give them their *remaining* ``energy_kwh``): the LP
    has one column per session step inside the horizon, so a short horizon is cheap.
    ``CabinetPlan.session(id).power_kw[0]`` is the power to apply now [kW].
``solve_cabinet(inp, *, early=True) -> CabinetPlan``
    The same from a prepared ``CabinetInput`` (``engine.optimize.cabinet_input.cabinet_input``).

Hand-built scenarios (dataclasses ``Scenario``, ``CabinetSpec``, ``ChargePointSpec``,
``SessionSpec``, ``BatterySpec``) may pass numbers, lists or ``None`` for per-step
arrays; ``validate_scenario(s)`` checks one like ``parse_scenario`` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers; at run time names load lazily
    from engine.optimize.planner import CabinetPlan, Plan, SessionPlan, plan, plan_cabinet, solve_cabinet
    from engine.optimize.quote import Quote, quote, quote_max_kwh
    from engine.optimize.scenario import (
        BatterySpec,
        CabinetSpec,
        ChargePointSpec,
        Scenario,
        ScenarioError,
        SessionSpec,
    )
    from engine.optimize.scenario_json import (
        check_request,
        load_scenario,
        parse_scenario,
        scenario_to_dict,
        validate_scenario,
    )

_LAZY = {
    **{n: "engine.optimize.planner" for n in ("CabinetPlan", "Plan", "SessionPlan", "plan", "plan_cabinet", "solve_cabinet")},
    **{n: "engine.optimize.quote" for n in ("Quote", "quote", "quote_max_kwh")},
    **{n: "engine.optimize.scenario" for n in ("BatterySpec", "CabinetSpec", "ChargePointSpec", "Scenario", "ScenarioError", "SessionSpec")},
    **{
        n: "engine.optimize.scenario_json"
        for n in ("check_request", "load_scenario", "parse_scenario", "scenario_to_dict", "validate_scenario")
    },
}


def __getattr__(name: str) -> Any:
    """Load the scheduling API on first use (``import engine.site`` stays light)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "BatterySpec",
    "CabinetSpec",
    "ChargePointSpec",
    "SessionSpec",
    "Scenario",
    "ScenarioError",
    "parse_scenario",
    "load_scenario",
    "scenario_to_dict",
    "validate_scenario",
    "check_request",
    "Plan",
    "CabinetPlan",
    "SessionPlan",
    "plan",
    "plan_cabinet",
    "solve_cabinet",
    "Quote",
    "quote",
    "quote_max_kwh",
]
