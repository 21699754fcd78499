"""Turn the site (or one of its groups) plus its charging sessions into the engine's Scenario.

A group is a cabinet with its members (``engine.site.Group``). Its scenario has:

* the cabinet's threshold [kW];
* ``pv_kw``: the sum of its PV inverters' profiles (``engine.site.profiles``, scaled to kWp);
* ``other_load_kw``: the sum of its other loads' profiles;
* ``battery``: its stationary battery (several are merged into one): capacity, ``rated_kw`` as
  max charge and discharge power, one-way efficiency, ``min_soc`` and ``initial_soc`` (or
  ``battery_energy_kwh`` when the caller knows the battery's energy now);
* its charge points (``rated_kw``) and the sessions on them;
* ``price_per_kwh``: ``prices`` if given, else the hourly CityLearn price (``engine.site.profiles``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import numpy as np

from engine.site.profiles import asset_profile_kw, price_per_kwh
from engine.optimize.scenario import (
    MAX_HORIZON_STEPS,
    BatterySpec,
    CabinetSpec,
    ChargePointSpec,
    Scenario,
    SessionSpec,
)
from engine.site.model import Group, Site, SiteError
from engine.validate import describe, integer, is_number, number

__all__ = ["scenario_for_group", "scenario_for_site", "cabinet_spec", "group_table"]


def cabinet_spec(
    group: Group,
    *,
    start: datetime,
    horizon_steps: int,
    step_minutes: int,
    battery_energy_kwh: float | None = None,
) -> CabinetSpec:
    """The engine's view of one group's cabinet: threshold, PV, other load, battery.

    Parameters
    ----------
    group : Group
        A cabinet and its members.
    start : datetime
        Start of step 0 in the site's local time.
    horizon_steps : int
        Number of steps.
    step_minutes : int
        Step length [min].
    battery_energy_kwh : float, optional
        Energy in the battery at ``start`` [kWh] (default: ``initial_soc`` x capacity).
    """
    pv = np.zeros(horizon_steps)
    for a in group.pv_inverters:
        pv += asset_profile_kw(a, start, horizon_steps, step_minutes)
    load = np.zeros(horizon_steps)
    for a in group.loads:
        load += asset_profile_kw(a, start, horizon_steps, step_minutes)
    battery = None
    if group.batteries:
        bs = group.batteries
        cap = sum(b.capacity_kwh for b in bs)
        e_min = sum(b.min_soc * b.capacity_kwh for b in bs)
        if battery_energy_kwh is None:
            energy = sum(b.initial_soc * b.capacity_kwh for b in bs)
        else:
            energy = float(battery_energy_kwh)
            if not np.isfinite(energy) or not e_min - 1e-9 <= energy <= cap + 1e-9:
                raise SiteError("battery_energy_kwh", f"must be in [{e_min:g}, {cap:g}] kWh, got {energy!r}")
        eff = min(b.efficiency for b in bs)
        battery = BatterySpec(
            capacity_kwh=float(cap),
            energy_kwh=float(min(max(energy, e_min), cap)),
            max_charge_kw=float(sum(b.rated_kw for b in bs)),
            max_discharge_kw=float(sum(b.rated_kw for b in bs)),
            min_energy_kwh=float(e_min),
            efficiency=float(eff),
        )
    return CabinetSpec(
        id=group.cabinet.id,
        threshold_kw=float(group.cabinet.threshold_kw),
        pv_kw=pv,
        other_load_kw=load,
        battery=battery,
    )


def _prices(prices: Sequence[float] | np.ndarray | None, start: datetime, horizon_steps: int, step_minutes: int) -> np.ndarray:
    if prices is None:
        return price_per_kwh(start, horizon_steps, step_minutes)
    if is_number(prices):
        number(prices, "prices", lo=0.0, error=SiteError)
    try:
        p = np.asarray(prices, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise SiteError("prices", f"must be a number or {horizon_steps} finite numbers, got {describe(prices)}") from None
    if p.ndim == 0:
        p = np.full(horizon_steps, float(p))
    if p.shape != (horizon_steps,):
        raise SiteError("prices", f"must have {horizon_steps} entries (horizon_steps), got {p.size}")
    if not np.all(np.isfinite(p)):
        raise SiteError("prices", "must be finite")
    if (p < 0).any():
        raise SiteError(f"prices[{int(np.argmax(p < 0))}]", f"must be >= 0, got {float(p[p < 0][0]):g}")
    return p


def _check_common(start: datetime, horizon_steps: int, step_minutes: int) -> None:
    if not isinstance(start, datetime):
        raise SiteError("start", f"must be a datetime, got {start!r}")
    integer(horizon_steps, "horizon_steps", lo=1, hi=MAX_HORIZON_STEPS, strict=True, error=SiteError)
    integer(step_minutes, "step_minutes", lo=1, hi=1440, strict=True, error=SiteError)


def _build(
    site: Site,
    groups: list[Group],
    *,
    start: datetime,
    horizon_steps: int,
    step_minutes: int,
    sessions: Sequence[SessionSpec],
    prices: Sequence[float] | np.ndarray | None,
    battery_energy_kwh: dict[str, float] | None,
    strict: bool,
) -> Scenario:
    _check_common(start, horizon_steps, step_minutes)
    all_cps = {a.id for a in site.charge_points}
    cps = [cp for g in groups for cp in g.charge_points]
    cp_ids = {cp.id for cp in cps}
    kept = []
    for i, s in enumerate(sessions):
        if s.cp not in all_cps:
            raise SiteError(f"sessions[{i}].cp", f"unknown charge point {s.cp!r}")
        if s.cp in cp_ids:
            kept.append(s)
        elif strict:
            raise SiteError(f"sessions[{i}].cp", f"{s.cp!r} is not in this scenario's cabinets")
    benergy = battery_energy_kwh or {}
    cabinets = [
        cabinet_spec(g, start=start, horizon_steps=horizon_steps, step_minutes=step_minutes,
                     battery_energy_kwh=benergy.get(g.cabinet.id))
        for g in groups
    ]
    return Scenario(
        step_minutes=step_minutes,
        horizon_steps=horizon_steps,
        start=start.isoformat(),
        price_per_kwh=_prices(prices, start, horizon_steps, step_minutes),
        cabinets=cabinets,
        charge_points=[ChargePointSpec(id=cp.id, cabinet=cp.cabinet, rated_kw=float(cp.rated_kw)) for cp in cps],
        sessions=kept,
    )


def scenario_for_group(
    site: Site,
    cabinet_id: str,
    *,
    start: datetime,
    horizon_steps: int,
    step_minutes: int,
    sessions: Sequence[SessionSpec] = (),
    prices: Sequence[float] | np.ndarray | None = None,
    battery_energy_kwh: float | None = None,
) -> Scenario:
    """The scenario of one group: the cabinet, its assets and the sessions on its charge points.

    Parameters
    ----------
    site : Site
    cabinet_id : str
        The group's cabinet.
    start : datetime
        Start of step 0 in the site's local time (selects the PV/load/price profiles).
    horizon_steps : int
        Number of steps.
    step_minutes : int
        Step length [min].
    sessions : sequence of SessionSpec
        Sessions; those on charge points of other cabinets are left out (so the whole session
        book may be passed). A session on an unknown charge point is an error.
    prices : array_like, optional
        Energy price per step [currency/kWh], or one number; default the hourly CityLearn price.
    battery_energy_kwh : float, optional
        Energy of the group's battery at ``start`` [kWh] (default ``initial_soc`` x capacity).

    Raises
    ------
    SiteError
        Naming the bad field (``cabinet``, ``sessions[i].cp``, ``prices``, ...).
    """
    try:
        groups = [site.group(cabinet_id)]
    except KeyError:
        raise SiteError("cabinet", f"unknown cabinet {cabinet_id!r}") from None
    be = None if battery_energy_kwh is None else {cabinet_id: battery_energy_kwh}
    return _build(site, groups, start=start, horizon_steps=horizon_steps, step_minutes=step_minutes,
                  sessions=sessions, prices=prices, battery_energy_kwh=be, strict=False)


def scenario_for_site(
    site: Site,
    *,
    start: datetime,
    horizon_steps: int,
    step_minutes: int,
    sessions: Sequence[SessionSpec] = (),
    prices: Sequence[float] | np.ndarray | None = None,
    battery_energy_kwh: dict[str, float] | None = None,
) -> Scenario:
    """The scenario of the whole site: every group, every session (see :func:`scenario_for_group`).

    ``battery_energy_kwh`` maps cabinet id -> battery energy at ``start`` [kWh].
    """
    return _build(site, site.groups(), start=start, horizon_steps=horizon_steps, step_minutes=step_minutes,
                  sessions=sessions, prices=prices, battery_energy_kwh=battery_energy_kwh, strict=True)


def group_table(site: Site) -> list[dict[str, object]]:
    """One row per group: what the engine solves as one subproblem.

    Keys: ``cabinet``, ``name``, ``threshold_kw`` [kW], ``charge_points`` (count),
    ``cp_kw`` (sum of ratings) [kW], ``pv_kwp`` [kWp], ``battery_kwh`` [kWh],
    ``other_load_kw`` [kW], ``members`` (comma-separated asset ids).
    """
    rows = []
    for g in site.groups():
        members = [*g.charge_points, *g.pv_inverters, *g.batteries, *g.loads]
        rows.append({
            "cabinet": g.cabinet.id,
            "name": g.cabinet.name,
            "threshold_kw": g.cabinet.threshold_kw,
            "charge_points": len(g.charge_points),
            "cp_kw": round(g.charge_point_kw, 3),
            "pv_kwp": g.pv_kwp,
            "battery_kwh": g.battery_kwh,
            "other_load_kw": g.other_load_kw,
            "members": ", ".join(a.id for a in members),
        })
    return rows
