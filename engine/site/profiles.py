"""Time profiles of PV inverters, other loads and the energy price, per scheduling step.

PV comes from real measurements shipped in ``data/profiles/`` (see its README):

* ``pv_citylearn`` - CityLearn Building_1 (Fontana CA, near Pasadena), hourly ``solar_generation``
  [W per kW installed], a whole year (1 Aug 2016 .. 31 Jul 2017): the chosen date's month/day/hour
  selects the hour.
* ``pv_serf`` - NREL SERF east array (Golden CO), 15-min AC power divided by its observed peak,
  1 Jul .. 13 Oct 2016. Dates outside that window map to the date equally far from the summer
  solstice (May 6 -> Aug 6), then clip to the window.

Other loads are synthetic shapes per unit of the load's rated power:

* ``lighting`` - night-heavy (full from dusk to dawn, 35 % by day),
* ``ventilation`` - daytime (90 % in opening hours, 25 % at night),
* ``elevator`` - 3 % standby plus one-minute trips at 60-100 % of the rating, more at the
  morning and evening peaks; random but seeded by the asset id and the local date (the same day
  always gives the same trips).

All series are evaluated minute by minute on the site's local wall clock (the time zone of
``start``) and averaged over each step, so the energy of a step is preserved for any
``step_minutes``.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import FieldError
from engine.site.model import LOAD_PROFILES, PV_PROFILES, Asset, AssetKind
from engine.validate import integer, number

__all__ = [
    "PROFILE_NAMES",
    "PV_PROFILES",
    "LOAD_PROFILES",
    "ProfileError",
    "per_unit",
    "profile_kw",
    "asset_profile_kw",
    "price_per_kwh",
    "DATA_DIR",
]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "profiles"
PROFILE_NAMES = PV_PROFILES + LOAD_PROFILES
_AUG1 = date(2016, 8, 1)
_SOLSTICE = date(2016, 6, 21)


class ProfileError(FieldError):
    """A bad profile request; the message starts with the offending field (:class:`engine.errors.FieldError`)."""


# -- data ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _citylearn() -> tuple[np.ndarray, np.ndarray]:
    """(pv_kw_per_kwp, price_per_kwh), 8760 hourly values each, row 0 = 1 Aug 00:00."""
    d = pd.read_csv(DATA_DIR / "citylearn_hourly.csv")
    pv = d["pv_kw_per_kwp"].to_numpy(float)
    price = d["price_per_kwh"].to_numpy(float)
    pv.setflags(write=False)
    price.setflags(write=False)
    return pv, price


@lru_cache(maxsize=1)
def _serf() -> tuple[date, date, np.ndarray]:
    """(first day, last day, per-unit power of shape (days, 96)) on a complete 15-min grid."""
    d = pd.read_csv(DATA_DIR / "pv_serf_15min.csv")
    t = pd.to_datetime(d["time_local"].str.slice(0, 19))  # wall clock (UTC-7) as naive
    s = pd.Series(d["kw_per_kwp"].to_numpy(float), index=t)
    s = s[~s.index.duplicated()]
    first, last = s.index[0].date(), s.index[-1].date()
    if s.index[-1].hour < 23:  # the last day is incomplete: end with the day before
        last = date.fromordinal(last.toordinal() - 1)
        s = s[s.index < pd.Timestamp(last) + pd.Timedelta("1D")]
    grid = pd.date_range(pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta("23h45min"), freq="15min")
    s = s.reindex(grid).interpolate(limit_direction="both").clip(lower=0.0)
    arr = s.to_numpy(float).reshape(-1, 96)
    arr.setflags(write=False)
    return first, last, arr


# -- clock helpers ------------------------------------------------------------------------
def _minutes(start: datetime, horizon_steps: int, step_minutes: int) -> pd.DatetimeIndex:
    if not isinstance(start, datetime):
        raise ProfileError("start", f"must be a datetime, got {start!r}")
    integer(horizon_steps, "horizon_steps", lo=1, strict=True, error=ProfileError)
    integer(step_minutes, "step_minutes", lo=1, hi=1440, strict=True, error=ProfileError)
    return pd.date_range(pd.Timestamp(start), periods=int(horizon_steps) * int(step_minutes), freq="min")


def _step_mean(values: np.ndarray, horizon_steps: int, step_minutes: int) -> np.ndarray:
    return values.reshape(horizon_steps, step_minutes).mean(axis=1)


def _citylearn_hours(m: pd.DatetimeIndex) -> np.ndarray:
    """Row of the CityLearn year for each minute's local month/day/hour."""
    month, day, hour = m.month.to_numpy(), m.day.to_numpy(), m.hour.to_numpy()
    day = np.where((month == 2) & (day == 29), 28, day)
    year = np.where(month >= 8, 2016, 2017)
    keys = year * 10000 + month * 100 + day
    uniq, inv = np.unique(keys, return_inverse=True)
    ords = np.array([date(int(k) // 10000, (int(k) // 100) % 100, int(k) % 100).toordinal() for k in uniq])
    ordinal = ords[inv]
    return (ordinal - _AUG1.toordinal()) * 24 + hour


def _serf_day(d: date, first: date, last: date) -> date:
    """The SERF day standing in for local date ``d`` (same distance from the solstice)."""
    probe = date(2016, d.month, 28 if (d.month, d.day) == (2, 29) else d.day)
    if probe < first:
        probe = date.fromordinal(2 * _SOLSTICE.toordinal() - probe.toordinal())
    return min(max(probe, first), last)


# -- per-unit shapes ----------------------------------------------------------------------
def _smoothstep(x: np.ndarray, a: float, b: float) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def per_unit(name: str, start: datetime, horizon_steps: int, step_minutes: int, *, seed_key: str = "") -> np.ndarray:
    """Per-unit profile per step (fraction of kWp or of the rated power).

    Parameters
    ----------
    name : str
        One of :data:`PROFILE_NAMES`.
    start : datetime
        Start of step 0 in the site's local time (timezone-aware or wall clock).
    horizon_steps : int
        Number of steps.
    step_minutes : int
        Step length [min].
    seed_key : str
        Seed of random shapes (the elevator): usually the asset id.

    Returns
    -------
    ndarray
        Shape (horizon_steps,), values in [0, 1] [per unit].
    """
    m = _minutes(start, horizon_steps, step_minutes)
    hod = (m.hour.to_numpy() * 60 + m.minute.to_numpy()) / 60.0  # local hour of day [h]
    if name == "pv_citylearn":
        pv, _ = _citylearn()
        v = pv[np.clip(_citylearn_hours(m), 0, len(pv) - 1)]
    elif name == "pv_serf":
        first, last, arr = _serf()
        days = m.normalize()
        uniq = pd.unique(days)
        row = {u: (_serf_day(pd.Timestamp(u).date(), first, last) - first).days for u in uniq}
        rows = np.array([row[u] for u in days]) if len(uniq) > 1 else np.full(len(m), row[uniq[0]])
        v = arr[rows, np.clip((hod * 4).astype(int), 0, 95)]
    elif name == "lighting":
        night = 1.0 - _smoothstep(hod, 6.0, 7.5) + _smoothstep(hod, 17.5, 19.0)
        v = 0.35 + 0.65 * np.clip(night, 0.0, 1.0)
    elif name == "ventilation":
        day = _smoothstep(hod, 6.0, 7.0) - _smoothstep(hod, 19.0, 20.5)
        v = 0.25 + 0.65 * np.clip(day, 0.0, 1.0)
    elif name == "elevator":
        v = np.empty(len(m))
        days = m.normalize()
        minute = (hod * 60).round().astype(int) % 1440
        for u in pd.unique(days):
            mask = days == u
            v[mask] = _elevator_day(seed_key, pd.Timestamp(u).date())[minute[mask]]
    else:
        raise ProfileError("profile", f"unknown profile {name!r} ({', '.join(PROFILE_NAMES)})")
    return _step_mean(np.asarray(v, float), int(horizon_steps), int(step_minutes))


@lru_cache(maxsize=64)
def _elevator_day(seed_key: str, day: date) -> np.ndarray:
    """1440 per-unit minute values of the elevator on one local date (seeded)."""
    rng = np.random.default_rng([zlib.crc32(seed_key.encode()), day.toordinal()])
    hour = np.arange(1440) / 60.0
    trips_per_hour = np.full(1440, 1.0)  # night
    trips_per_hour[(hour >= 6) & (hour < 22)] = 8.0
    trips_per_hour[((hour >= 7) & (hour < 10)) | ((hour >= 16) & (hour < 19))] = 20.0
    trip = rng.random(1440) < trips_per_hour / 60.0
    out = np.where(trip, rng.uniform(0.6, 1.0, 1440), 0.03)
    out.setflags(write=False)
    return out


# -- public helpers -----------------------------------------------------------------------
def profile_kw(
    name: str, rated_kw: float, start: datetime, horizon_steps: int, step_minutes: int, *, seed_key: str = ""
) -> np.ndarray:
    """Power per step of a PV inverter or load with this profile [kW].

    Parameters
    ----------
    name : str
        Profile name (:data:`PROFILE_NAMES`).
    rated_kw : float
        Inverter AC rating [kWp] or the load's rated power [kW].
    start, horizon_steps, step_minutes
        As in :func:`per_unit`.

    Returns
    -------
    ndarray
        Shape (horizon_steps,) [kW].
    """
    rated = number(rated_kw, "rated_kw", lo=0.0, error=ProfileError)
    return rated * per_unit(name, start, horizon_steps, step_minutes, seed_key=seed_key)


def asset_profile_kw(asset: Asset, start: datetime, horizon_steps: int, step_minutes: int) -> np.ndarray:
    """Power per step of a PV inverter or other load [kW] (its ``profile``, scaled to ``rated_kw``).

    A PV inverter without a profile uses ``pv_citylearn``; a load without one draws its rated
    power all the time. Charge points and batteries have no profile (ProfileError).
    """
    if asset.kind == AssetKind.PV_INVERTER:
        name = asset.profile or "pv_citylearn"
        if name not in PV_PROFILES:
            raise ProfileError(f"{asset.id}.profile", f"not a PV profile: {name!r} ({', '.join(PV_PROFILES)})")
    elif asset.kind == AssetKind.OTHER_LOAD:
        name = asset.profile
        if not name:
            _minutes(start, horizon_steps, step_minutes)
            return np.full(int(horizon_steps), float(asset.rated_kw))
        if name not in LOAD_PROFILES:
            raise ProfileError(f"{asset.id}.profile", f"not a load profile: {name!r} ({', '.join(LOAD_PROFILES)})")
    else:
        raise ProfileError(f"{asset.id}.kind", f"a {asset.kind.label} has no profile")
    return profile_kw(name, asset.rated_kw, start, horizon_steps, step_minutes, seed_key=asset.id)


def price_per_kwh(start: datetime, horizon_steps: int, step_minutes: int) -> np.ndarray:
    """Hourly energy price (CityLearn ``pricing.csv``) per step [currency/kWh]."""
    m = _minutes(start, horizon_steps, step_minutes)
    _, price = _citylearn()
    v = price[np.clip(_citylearn_hours(m), 0, len(price) - 1)]
    return _step_mean(v, int(horizon_steps), int(step_minutes))
