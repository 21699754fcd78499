"""The scenario's JSON form: read and validate every field, check a quote request, write it back.

* :func:`parse_scenario` reads the JSON dict of ``docs/engine.md`` and validates every field;
  a bad field raises :class:`~engine.optimize.scenario.ScenarioError` whose message starts with
  the field's path, e.g. ``sessions[3].departure_step: must be > arrival_step``.
* :func:`scenario_to_dict` writes it back (round-trips through :func:`parse_scenario`).
* :func:`load_scenario` reads a JSON file; :func:`validate_scenario` checks a hand-built
  :class:`~engine.optimize.scenario.Scenario`; :func:`check_request` a quote request.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from engine.files import read_json
from engine.optimize.scenario import (
    BatterySpec,
    CabinetSpec,
    ChargePointSpec,
    Scenario,
    ScenarioError,
    SessionSpec,
    check_references,
    step_array,
)
from engine.optimize.scenario import (
    MAX_CABINET_STEPS,
    MAX_CABINETS,
    MAX_CHARGE_POINTS,
    MAX_ENERGY_KWH,
    MAX_FILE_BYTES,
    MAX_HORIZON_STEPS,
    MAX_POWER_KW,
    MAX_PRICE,
    MAX_SESSION_STEPS,
    MAX_SESSIONS,
    MAX_STEP_INDEX,
    MAX_STEP_MINUTES,
    MIN_EFFICIENCY,
)
from engine.validate import integer, is_number, number, text

__all__ = [
    "parse_scenario",
    "parse_session",
    "scenario_to_dict",
    "session_to_dict",
    "load_scenario",
    "validate_scenario",
    "check_request",
]


# --------------------------------------------------------------------------- field readers


def _name(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _number(
    d: Mapping[str, Any],
    key: str,
    path: str,
    *,
    required: bool = True,
    default: float | None = None,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float | None = None,
) -> float | None:
    name = _name(path, key)
    if key not in d or d[key] is None:
        if required:
            raise ScenarioError(name, "required")
        return default
    if positive:
        return number(d[key], name, lo=0.0, lo_open=True, hi=maximum, error=ScenarioError)
    return number(d[key], name, lo=minimum, hi=maximum, error=ScenarioError)


def _integer(
    d: Mapping[str, Any], key: str, path: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    name = _name(path, key)
    if key not in d or d[key] is None:
        raise ScenarioError(name, "required")
    return integer(d[key], name, lo=minimum, hi=maximum, error=ScenarioError)


def _text(d: Mapping[str, Any], key: str, path: str) -> str:
    name = _name(path, key)
    if key not in d or d[key] is None:
        raise ScenarioError(name, "required")
    return text(d[key], name, error=ScenarioError)


def _array(
    d: Mapping[str, Any],
    key: str,
    path: str,
    horizon_steps: int,
    *,
    allow_scalar: bool = False,
    required: bool = False,
    minimum: float | None = 0.0,
    maximum: float | None = MAX_POWER_KW,
) -> np.ndarray | None:
    name = _name(path, key)
    if key not in d or d[key] is None:
        if required:
            raise ScenarioError(name, "required")
        return None
    v = d[key]
    if allow_scalar and is_number(v):
        return np.full(horizon_steps, number(v, name, lo=minimum, hi=maximum, error=ScenarioError))
    if not isinstance(v, (list, tuple, np.ndarray)):
        what = "a number or a list" if allow_scalar else "a list"
        raise ScenarioError(name, f"must be {what} of {horizon_steps} numbers, got {type(v).__name__}")
    if len(v) != horizon_steps:
        raise ScenarioError(name, f"must have horizon_steps = {horizon_steps} entries, got {len(v)}")
    for i, x in enumerate(v):
        if not is_number(x):
            raise ScenarioError(f"{name}[{i}]", f"must be a number, got {type(x).__name__}")
    try:
        arr = np.asarray(v, dtype=float)
    except OverflowError:  # an integer too large for a float: find it and name it
        for i, x in enumerate(v):
            number(x, f"{name}[{i}]", lo=minimum, hi=maximum, error=ScenarioError)
        raise  # pragma: no cover - one entry above overflows
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ScenarioError(f"{name}[{int(np.argmax(bad))}]", "must be a finite number")
    outside = np.zeros(horizon_steps, dtype=bool)
    if minimum is not None:
        outside |= arr < minimum
    if maximum is not None:
        outside |= arr > maximum
    if outside.any():
        i = int(np.argmax(outside))
        number(float(arr[i]), f"{name}[{i}]", lo=minimum, hi=maximum, error=ScenarioError)
    return arr


def _mapping(v: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ScenarioError(name, f"must be an object, got {type(v).__name__}")
    return v


def _list(d: Mapping[str, Any], key: str, *, required: bool = True, most: int | None = None) -> list[Any]:
    if key not in d or d[key] is None:
        if required:
            raise ScenarioError(key, "required")
        return []
    v = d[key]
    if not isinstance(v, (list, tuple)):
        raise ScenarioError(key, f"must be a list, got {type(v).__name__}")
    if most is not None and len(v) > most:
        raise ScenarioError(key, f"{len(v)} entries, at most {most}")
    return list(v)


# --------------------------------------------------------------------------- parsing


def _parse_battery(v: Any, path: str) -> BatterySpec:
    b = _mapping(v, path)
    cap = _number(b, "capacity_kwh", path, minimum=0.0, maximum=MAX_ENERGY_KWH)
    max_c = _number(b, "max_charge_kw", path, minimum=0.0, maximum=MAX_POWER_KW)
    max_d = _number(b, "max_discharge_kw", path, minimum=0.0, maximum=MAX_POWER_KW)
    e_min = _number(b, "min_energy_kwh", path, required=False, default=0.0, minimum=0.0, maximum=MAX_ENERGY_KWH)
    eff = _number(b, "efficiency", path, required=False, default=1.0)
    energy = _number(b, "energy_kwh", path, minimum=0.0, maximum=MAX_ENERGY_KWH)
    assert cap is not None and max_c is not None and max_d is not None
    assert e_min is not None and eff is not None and energy is not None
    if not 0.0 < eff <= 1.0:
        raise ScenarioError(f"{path}.efficiency", "must be in (0, 1]")
    number(eff, f"{path}.efficiency", lo=MIN_EFFICIENCY, error=ScenarioError)  # 1/eff stays finite
    if e_min > cap:
        raise ScenarioError(f"{path}.min_energy_kwh", f"must be <= capacity_kwh ({cap:g})")
    if energy > cap:
        raise ScenarioError(f"{path}.energy_kwh", f"must be <= capacity_kwh ({cap:g})")
    if energy < e_min:
        raise ScenarioError(f"{path}.energy_kwh", f"must be >= min_energy_kwh ({e_min:g})")
    return BatterySpec(
        capacity_kwh=cap,
        energy_kwh=energy,
        max_charge_kw=max_c,
        max_discharge_kw=max_d,
        min_energy_kwh=e_min,
        efficiency=eff,
    )


def _parse_cabinet(v: Any, path: str, horizon_steps: int) -> CabinetSpec:
    c = _mapping(v, path)
    cid = _text(c, "id", path)
    thr = _array(c, "threshold_kw", path, horizon_steps, allow_scalar=True, required=True)
    pv = _array(c, "pv_kw", path, horizon_steps)
    other = _array(c, "other_load_kw", path, horizon_steps)
    bat = c.get("battery")
    battery = None if bat is None else _parse_battery(bat, f"{path}.battery")
    return CabinetSpec(id=cid, threshold_kw=thr, pv_kw=pv, other_load_kw=other, battery=battery)


def _parse_cp(v: Any, path: str) -> ChargePointSpec:
    c = _mapping(v, path)
    rated = _number(c, "rated_kw", path, positive=True, maximum=MAX_POWER_KW)
    assert rated is not None
    return ChargePointSpec(id=_text(c, "id", path), cabinet=_text(c, "cabinet", path), rated_kw=rated)


def parse_session(v: Any, path: str = "request") -> SessionSpec:
    """Read one session (or request) object, checking its own fields only.

    Parameters
    ----------
    v : dict
        The session JSON object.
    path : str
        Field path used in error messages, e.g. ``"sessions[3]"``.

    Returns
    -------
    SessionSpec

    Raises
    ------
    ScenarioError
        On a missing or bad field; cross-references (charge point, overlaps) are
        checked by :func:`parse_scenario` / :func:`check_request`.
    """
    s = _mapping(v, path)
    sid = _text(s, "id", path)
    cp = _text(s, "cp", path)
    arrival = _integer(s, "arrival_step", path, minimum=-MAX_STEP_INDEX, maximum=MAX_STEP_INDEX)
    departure = _integer(s, "departure_step", path, minimum=-MAX_STEP_INDEX, maximum=MAX_STEP_INDEX)
    if departure <= arrival:
        raise ScenarioError(f"{path}.departure_step", "must be > arrival_step")
    energy = _number(s, "energy_kwh", path, minimum=0.0, maximum=MAX_ENERGY_KWH)
    assert energy is not None
    max_kw = _number(s, "max_kw", path, required=False, default=None, positive=True, maximum=MAX_POWER_KW)
    g = s.get("guaranteed", False)
    if g is None:
        g = False
    if not isinstance(g, (bool, np.bool_)):
        raise ScenarioError(f"{path}.guaranteed", f"must be true or false, got {type(g).__name__}")
    return SessionSpec(
        id=sid,
        cp=cp,
        arrival_step=arrival,
        departure_step=departure,
        energy_kwh=energy,
        max_kw=max_kw,
        guaranteed=bool(g),
    )


def parse_scenario(d: Any) -> Scenario:
    """Read and validate a scenario JSON object.

    Parameters
    ----------
    d : dict
        The scenario as decoded from JSON (extra fields are allowed and ignored).

    Returns
    -------
    Scenario
        With every per-step array as a float ndarray of length ``horizon_steps``.

    Raises
    ------
    ScenarioError
        Naming the first offending field, e.g. ``sessions[3].departure_step: must be > arrival_step``.
    """
    d = _mapping(d, "scenario")
    step_minutes = _number(d, "step_minutes", "", positive=True, maximum=MAX_STEP_MINUTES)
    assert step_minutes is not None
    T = _integer(d, "horizon_steps", "", minimum=1, maximum=MAX_HORIZON_STEPS)
    start = d.get("start", "")
    if start is None:
        start = ""
    if not isinstance(start, str):
        raise ScenarioError("start", f"must be a string, got {type(start).__name__}")
    price = _array(d, "price_per_kwh", "", T, maximum=MAX_PRICE)

    # sizes are checked before anything of that size is read or allocated
    cabinet_list = _list(d, "cabinets", most=MAX_CABINETS)
    if len(cabinet_list) * T > MAX_CABINET_STEPS:
        raise ScenarioError(
            "cabinets",
            f"{len(cabinet_list)} cabinets x horizon_steps {T} = {len(cabinet_list) * T} cabinet-steps, "
            f"at most {MAX_CABINET_STEPS} (fewer cabinets or a shorter horizon)",
        )
    cp_list = _list(d, "charge_points", most=MAX_CHARGE_POINTS)
    session_list = _list(d, "sessions", required=False, most=MAX_SESSIONS)

    cabinets = [_parse_cabinet(v, f"cabinets[{i}]", T) for i, v in enumerate(cabinet_list)]
    cps = [_parse_cp(v, f"charge_points[{i}]") for i, v in enumerate(cp_list)]
    sessions = [parse_session(v, f"sessions[{i}]") for i, v in enumerate(session_list)]
    check_references(cabinets, cps, sessions)
    _check_overlaps(sessions)
    steps = sum(max(0, min(s.departure_step, T) - max(s.arrival_step, 0)) for s in sessions)
    if steps > MAX_SESSION_STEPS:
        raise ScenarioError(
            "sessions",
            f"their windows inside the horizon add up to {steps} steps, at most {MAX_SESSION_STEPS} "
            "(fewer sessions, shorter windows or longer steps)",
        )

    request = None
    if d.get("request") is not None:
        request = parse_session(d["request"], "request")

    extra = {k: v for k, v in d.items() if k not in _KNOWN_KEYS}
    scenario = Scenario(
        step_minutes=step_minutes,
        horizon_steps=T,
        start=start,
        price_per_kwh=price,
        cabinets=tuple(cabinets),
        charge_points=tuple(cps),
        sessions=tuple(sessions),
        request=request,
        extra=extra,
    )
    if request is not None:
        check_request(scenario, request)
    return scenario


_KNOWN_KEYS = {
    "step_minutes",
    "horizon_steps",
    "start",
    "price_per_kwh",
    "cabinets",
    "charge_points",
    "sessions",
    "request",
}


def _check_overlaps(sessions: Sequence[SessionSpec]) -> None:
    by_cp: dict[str, list[tuple[int, int]]] = {}
    for i, s in enumerate(sessions):
        by_cp.setdefault(s.cp, []).append((s.arrival_step, i))
    for cp, items in by_cp.items():
        items.sort()
        for (_, a), (_, b) in zip(items, items[1:]):
            sa, sb = sessions[a], sessions[b]
            if sb.arrival_step < sa.departure_step:
                raise ScenarioError(
                    f"sessions[{b}].arrival_step",
                    f"overlaps session {sa.id!r} on charge point {cp!r} "
                    f"(steps {sa.arrival_step}-{sa.departure_step})",
                )


def check_request(scenario: Scenario, request: SessionSpec, path: str = "request") -> None:
    """Check a quote request against a scenario.

    Parameters
    ----------
    scenario : Scenario
    request : SessionSpec
    path : str
        Field path used in error messages.

    Raises
    ------
    ScenarioError
        When its charge point is unknown, its id is a session's id, or the charge point
        is busy with a session during the request's window.
    """
    cps = {cp.id for cp in scenario.charge_points}
    if request.cp not in cps:
        raise ScenarioError(f"{path}.cp", f"unknown charge point {request.cp!r}")
    for key in ("arrival_step", "departure_step"):
        integer(getattr(request, key), f"{path}.{key}", lo=-MAX_STEP_INDEX, hi=MAX_STEP_INDEX, error=ScenarioError)
    if request.departure_step <= request.arrival_step:
        raise ScenarioError(f"{path}.departure_step", "must be > arrival_step")
    number(request.energy_kwh, f"{path}.energy_kwh", lo=0.0, hi=MAX_ENERGY_KWH, error=ScenarioError)
    if request.max_kw is not None:
        number(request.max_kw, f"{path}.max_kw", lo=0.0, lo_open=True, hi=MAX_POWER_KW, error=ScenarioError)
    for s in scenario.sessions:
        if s.id == request.id:
            raise ScenarioError(f"{path}.id", f"duplicate id {s.id!r} (a session has it)")
        if s.cp == request.cp and s.arrival_step < request.departure_step and request.arrival_step < s.departure_step:
            raise ScenarioError(
                f"{path}.cp",
                f"charge point {s.cp!r} is busy with session {s.id!r} "
                f"(steps {s.arrival_step}-{s.departure_step})",
            )


def validate_scenario(scenario: Scenario) -> Scenario:
    """Validate a hand-built scenario by a round trip through the JSON form.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    Scenario
        The parsed, normalised equivalent (full-length float arrays).

    Raises
    ------
    ScenarioError
        As :func:`parse_scenario`.
    """
    # the sizes first: the round trip below allocates horizon_steps floats per array
    number(scenario.step_minutes, "step_minutes", lo=0.0, lo_open=True, hi=MAX_STEP_MINUTES, error=ScenarioError)
    integer(scenario.horizon_steps, "horizon_steps", lo=1, hi=MAX_HORIZON_STEPS, error=ScenarioError)
    for key, most in (("cabinets", MAX_CABINETS), ("charge_points", MAX_CHARGE_POINTS), ("sessions", MAX_SESSIONS)):
        _list({key: getattr(scenario, key)}, key, required=False, most=most)
    try:
        d = scenario_to_dict(scenario)
    except (ValueError, TypeError, OverflowError) as exc:  # wrong array length or type in a hand-built scenario
        raise ScenarioError("scenario", " ".join(str(exc).split())) from exc
    return parse_scenario(d)


# --------------------------------------------------------------------------- writing


def _array_out(value: Any, T: int, *, scalar_if_constant: bool = False) -> Any:
    arr = step_array(value, T)
    if scalar_if_constant and T > 0 and np.all(arr == arr[0]):
        return float(arr[0])
    return [float(x) for x in arr]


def session_to_dict(s: SessionSpec) -> dict[str, Any]:
    """The JSON object of one session."""
    out: dict[str, Any] = {
        "id": s.id,
        "cp": s.cp,
        "arrival_step": int(s.arrival_step),
        "departure_step": int(s.departure_step),
        "energy_kwh": float(s.energy_kwh),
    }
    if s.max_kw is not None:
        out["max_kw"] = float(s.max_kw)
    out["guaranteed"] = bool(s.guaranteed)
    return out


def scenario_to_dict(s: Scenario) -> dict[str, Any]:
    """The scenario as a JSON-ready dict (inverse of :func:`parse_scenario`).

    Parameters
    ----------
    s : Scenario

    Returns
    -------
    dict
        Thresholds that are the same at every step are written as one number.
    """
    T = int(s.horizon_steps)
    out: dict[str, Any] = dict(s.extra)
    out.update(
        {
            "step_minutes": float(s.step_minutes),
            "horizon_steps": T,
            "start": s.start,
            "price_per_kwh": _array_out(s.price_per_kwh, T),
        }
    )
    cabinets = []
    for c in s.cabinets:
        cd: dict[str, Any] = {
            "id": c.id,
            "threshold_kw": _array_out(c.threshold_kw, T, scalar_if_constant=True),
            "pv_kw": _array_out(c.pv_kw, T),
            "other_load_kw": _array_out(c.other_load_kw, T),
        }
        if c.battery is not None:
            b = c.battery
            cd["battery"] = {
                "capacity_kwh": float(b.capacity_kwh),
                "energy_kwh": float(b.energy_kwh),
                "min_energy_kwh": float(b.min_energy_kwh),
                "max_charge_kw": float(b.max_charge_kw),
                "max_discharge_kw": float(b.max_discharge_kw),
                "efficiency": float(b.efficiency),
            }
        cabinets.append(cd)
    out["cabinets"] = cabinets
    out["charge_points"] = [
        {"id": cp.id, "cabinet": cp.cabinet, "rated_kw": float(cp.rated_kw)} for cp in s.charge_points
    ]
    out["sessions"] = [session_to_dict(x) for x in s.sessions]
    if s.request is not None:
        out["request"] = session_to_dict(s.request)
    return out


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario JSON file.

    Parameters
    ----------
    path : str or PathLike
        At most :data:`MAX_FILE_BYTES` bytes.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        ``scenario: ...`` when the file is missing, too large, nested too deeply or not valid
        JSON (:func:`engine.files.read_json`); otherwise as :func:`parse_scenario`.
    """
    d = read_json(path, "scenario", ScenarioError, max_bytes=MAX_FILE_BYTES)
    return parse_scenario(d)
