"""The physical site: cabinets and the assets hanging behind them.

A site is what the CPO sees on the map: power distribution cabinets, each with the
power threshold the CPO sets, and the assets wired to them (charge points, PV
inverters, stationary batteries and other loads). Each cabinet with its members is one
*group*, an independent scheduling subproblem.

The site is read from JSON (``data/site.json``) with :func:`load_site` /
:func:`site_from_dict` and written back with :func:`site_to_dict` / :func:`save_site`.
Every bad field raises :class:`SiteError` naming the field, for example
``assets[3].cabinet: unknown cabinet 'POD-X'``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum
from typing import Any, Iterable

from engine.timezone import ClockError, site_tz
from engine.errors import FieldError
from engine.files import atomic_write_text, read_json
from engine.validate import by_id, number, replace_by_id, text

__all__ = [
    "AssetKind",
    "Asset",
    "Cabinet",
    "Group",
    "Site",
    "SiteError",
    "load_site",
    "save_site",
    "site_json",
    "site_from_dict",
    "site_to_dict",
    "PV_PROFILES",
    "LOAD_PROFILES",
    "MAX_THRESHOLD_KW",
    "MAX_RATED_KW",
    "MAX_CAPACITY_KWH",
    "MAX_PRICE_PER_KWH",
    "MAX_DISTANCE_KM",
    "distance_km",
]

PV_PROFILES = ("pv_citylearn", "pv_serf")
"""Profiles a PV inverter may name (``engine.site.profiles``); empty means ``pv_citylearn``."""
LOAD_PROFILES = ("lighting", "ventilation", "elevator")
"""Profiles another load may name (``engine.site.profiles``); empty means its rated power all day."""

MAX_THRESHOLD_KW = 100_000.0
"""Largest cabinet threshold [kW] (100 MW; SC1 stores W in a uint32, at most 4,294,967 kW)."""
MAX_RATED_KW = 100_000.0
"""Largest rating of an asset [kW]."""
MAX_CAPACITY_KWH = 1_000_000.0
"""Largest battery capacity [kWh]."""
MAX_PRICE_PER_KWH = 1_000_000.0
"""Largest price of a charge point [currency/kWh] (SC1: thousandths in a uint32)."""
MAX_SITE_BYTES = 16 * 1024 * 1024
"""Largest site file read [bytes]."""
MAX_DISTANCE_KM = 10.0
"""Farthest a cabinet or asset may be from the site's centre [km]."""


class SiteError(FieldError):
    """An invalid site description; the message starts with the offending field (:class:`engine.errors.FieldError`)."""


class AssetKind(IntEnum):
    """Asset kinds, numbered as on chain (SC1 ``kind``)."""

    CHARGE_POINT = 1
    PV_INVERTER = 2
    BATTERY = 3
    OTHER_LOAD = 4

    @property
    def label(self) -> str:
        """Human name of the kind, e.g. ``"charge point"``."""
        return self.name.lower().replace("_", " ")

    @classmethod
    def parse(cls, value: Any, field_name: str) -> "AssetKind":
        """Read a kind given as its number (1..4) or name (``"charge_point"``)."""
        if isinstance(value, str):
            key = value.strip().upper().replace(" ", "_").replace("-", "_")
            aliases = {"CP": "CHARGE_POINT", "PV": "PV_INVERTER", "LOAD": "OTHER_LOAD"}
            key = aliases.get(key, key)
            if key in cls.__members__:
                return cls[key]
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
            return cls(value)
        raise SiteError(field_name, f"unknown kind {value!r} (charge_point, pv_inverter, battery, other_load)")


@dataclass(frozen=True)
class Cabinet:
    """A power distribution cabinet: the shared supply of one group.

    Parameters
    ----------
    id : str
        Human id, e.g. ``"POD-CC"`` (on chain: keccak256 of it).
    name : str
        Display name.
    lat, lon : float
        Location [degrees].
    threshold_kw : float
        Grid import limit of the group, set by the CPO [kW].
    """

    id: str
    name: str
    lat: float
    lon: float
    threshold_kw: float


@dataclass(frozen=True)
class Asset:
    """One asset behind a cabinet.

    Parameters
    ----------
    id : str
        Human id, e.g. ``"CA-301"``.
    name : str
        Display name.
    kind : AssetKind
        Charge point, PV inverter, battery or other load.
    cabinet : str
        Id of the cabinet the asset is wired to.
    lat, lon : float
        Location [degrees].
    rated_kw : float
        Rated power [kW]: charging rating of a charge point, AC rating (kWp) of a PV
        inverter, charge/discharge rating of a battery, nominal draw of a load.
    capacity_kwh : float
        Usable capacity of a battery [kWh]; 0 for every other kind.
    price_per_kwh : float
        Price a charge point bills [currency/kWh]; 0 for every other kind.
    profile : str
        Name of the time profile of a PV inverter or load (e.g. ``"pv_citylearn"``,
        ``"ventilation"``); empty for charge points and batteries.
    efficiency : float
        One-way battery efficiency (0, 1]; 1 for other kinds.
    min_soc : float
        Lowest state of charge a battery may reach [fraction of capacity].
    initial_soc : float
        Battery state of charge at the start of a day [fraction of capacity].
    """

    id: str
    name: str
    kind: AssetKind
    cabinet: str
    lat: float
    lon: float
    rated_kw: float
    capacity_kwh: float = 0.0
    price_per_kwh: float = 0.0
    profile: str = ""
    efficiency: float = 1.0
    min_soc: float = 0.0
    initial_soc: float = 0.5


@dataclass(frozen=True)
class Group:
    """A cabinet with its members: one independent scheduling subproblem."""

    cabinet: Cabinet
    charge_points: tuple[Asset, ...]
    pv_inverters: tuple[Asset, ...]
    batteries: tuple[Asset, ...]
    loads: tuple[Asset, ...]

    @property
    def id(self) -> str:
        """The cabinet's id (a group is known by its cabinet)."""
        return self.cabinet.id

    @property
    def pv_kwp(self) -> float:
        """Installed PV on the cabinet [kWp]."""
        return float(sum(a.rated_kw for a in self.pv_inverters))

    @property
    def battery_kwh(self) -> float:
        """Stationary battery capacity on the cabinet [kWh]."""
        return float(sum(a.capacity_kwh for a in self.batteries))

    @property
    def other_load_kw(self) -> float:
        """Nominal power of the other equipment on the cabinet [kW]."""
        return float(sum(a.rated_kw for a in self.loads))

    @property
    def charge_point_kw(self) -> float:
        """Sum of the charge points' ratings [kW]."""
        return float(sum(a.rated_kw for a in self.charge_points))


@dataclass(frozen=True)
class Site:
    """A parking site: cabinets and assets.

    Parameters
    ----------
    name : str
        Site name shown in the app.
    timezone : str
        IANA time zone of the site, e.g. ``"America/Los_Angeles"``.
    lat, lon : float
        Centre of the site [degrees].
    cabinets : tuple of Cabinet
    assets : tuple of Asset
    """

    name: str
    timezone: str
    lat: float
    lon: float
    cabinets: tuple[Cabinet, ...]
    assets: tuple[Asset, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # -- lookups -------------------------------------------------------------------
    def cabinet(self, cabinet_id: str) -> Cabinet:
        """The cabinet with this id (KeyError if none)."""
        return by_id(self.cabinets, cabinet_id)

    def asset(self, asset_id: str) -> Asset:
        """The asset with this id (KeyError if none)."""
        return by_id(self.assets, asset_id)

    def assets_of(self, kind: AssetKind) -> tuple[Asset, ...]:
        """All assets of one kind, in file order."""
        return tuple(a for a in self.assets if a.kind == kind)

    @property
    def charge_points(self) -> tuple[Asset, ...]:
        return self.assets_of(AssetKind.CHARGE_POINT)

    def groups(self) -> list[Group]:
        """One :class:`Group` per cabinet, in cabinet order."""
        out = []
        for c in self.cabinets:
            members = [a for a in self.assets if a.cabinet == c.id]
            out.append(
                Group(
                    cabinet=c,
                    charge_points=tuple(a for a in members if a.kind == AssetKind.CHARGE_POINT),
                    pv_inverters=tuple(a for a in members if a.kind == AssetKind.PV_INVERTER),
                    batteries=tuple(a for a in members if a.kind == AssetKind.BATTERY),
                    loads=tuple(a for a in members if a.kind == AssetKind.OTHER_LOAD),
                )
            )
        return out

    def group(self, cabinet_id: str) -> Group:
        """The group of cabinet ``cabinet_id`` (``KeyError`` if absent)."""
        return by_id(self.groups(), cabinet_id)

    def group_of(self, asset_id: str) -> Group:
        """The group the asset belongs to."""
        return self.group(self.asset(asset_id).cabinet)

    # -- edits (each returns a new, validated site) ----------------------------------
    def with_asset(self, asset: Asset) -> "Site":
        """Add ``asset``, or replace the asset with the same id (e.g. moved or re-wired)."""
        return _validated(replace(self, assets=replace_by_id(self.assets, asset)))

    def with_cabinet(self, cabinet: Cabinet) -> "Site":
        """Add ``cabinet``, or replace the cabinet with the same id (e.g. a new threshold)."""
        return _validated(replace(self, cabinets=replace_by_id(self.cabinets, cabinet)))

    def with_threshold(self, cabinet_id: str, threshold_kw: float) -> "Site":
        """The site with one cabinet's threshold changed [kW]."""
        try:
            cab = self.cabinet(cabinet_id)
        except KeyError:
            raise SiteError("cabinet", f"unknown cabinet {cabinet_id!r}") from None
        return self.with_cabinet(replace(cab, threshold_kw=threshold_kw))

    def with_asset_moved(
        self,
        asset_id: str,
        *,
        cabinet: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> "Site":
        """The site with an asset re-wired to another cabinet and/or moved on the map."""
        try:
            a = self.asset(asset_id)
        except KeyError:
            raise SiteError("asset", f"unknown asset {asset_id!r}") from None
        changes: dict[str, Any] = {}
        if cabinet is not None:
            changes["cabinet"] = cabinet
        if lat is not None:
            changes["lat"] = lat
        if lon is not None:
            changes["lon"] = lon
        return self.with_asset(replace(a, **changes))


# -- reading and writing ------------------------------------------------------------------

_ASSET_NUMBERS = ("rated_kw", "capacity_kwh", "price_per_kwh", "efficiency", "min_soc", "initial_soc")


def _number(
    value: Any,
    field_name: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float | None = None,
) -> float:
    if positive:
        return number(value, field_name, lo=0.0, lo_open=True, hi=maximum, error=SiteError)
    return number(value, field_name, lo=minimum, hi=maximum, error=SiteError)


def _text(value: Any, field_name: str, *, max_len: int = 64) -> str:
    return text(value, field_name, max_bytes=max_len, strip=True, error=SiteError)


def _lat(value: Any, field_name: str) -> float:
    x = number(value, field_name, error=SiteError)
    if abs(x) > 90:
        raise SiteError(field_name, f"latitude must be within [-90, 90], got {x:g}")
    return x


def _lon(value: Any, field_name: str) -> float:
    x = number(value, field_name, error=SiteError)
    if abs(x) > 180:
        raise SiteError(field_name, f"longitude must be within [-180, 180], got {x:g}")
    return x


def _timezone(value: Any) -> str:
    tz = text(value, "timezone", max_bytes=64, error=SiteError)
    try:
        site_tz(tz)
    except ClockError as exc:
        raise SiteError("timezone", exc.message) from None
    return tz


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points [km] (haversine, Earth radius 6371 km).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        The two points [degrees].
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _near_site(site: "Site", lat: float, lon: float, path: str) -> None:
    """Refuse a location farther than :data:`MAX_DISTANCE_KM` from the site's centre, naming lat or lon."""
    d = distance_km(site.lat, site.lon, lat, lon)
    if d <= MAX_DISTANCE_KM:
        return
    # name the coordinate that is off: the latitude alone moves it that far, or else the longitude
    key = "lat" if distance_km(site.lat, site.lon, lat, site.lon) > MAX_DISTANCE_KM else "lon"
    raise SiteError(
        f"{path}.{key}",
        f"({lat:g}, {lon:g}) is {d:,.1f} km from the site's centre ({site.lat:g}, {site.lon:g}), "
        f"at most {MAX_DISTANCE_KM:g} km",
    )


def _profile(value: Any, kind: AssetKind, field_name: str) -> str:
    if not isinstance(value, str):
        raise SiteError(field_name, "must be a string")
    name = value.strip()
    if not name:
        return ""
    allowed = {AssetKind.PV_INVERTER: PV_PROFILES, AssetKind.OTHER_LOAD: LOAD_PROFILES}.get(kind)
    if allowed is None:
        raise SiteError(field_name, f"a {kind.label} has no profile, got {name!r}")
    if name not in allowed:
        raise SiteError(field_name, f"unknown {kind.label} profile {name!r} ({', '.join(allowed)})")
    return name


def _cabinet_from(d: Any, path: str) -> Cabinet:
    if not isinstance(d, dict):
        raise SiteError(path, "must be an object")
    for key in ("id", "lat", "lon", "threshold_kw"):
        if key not in d:
            raise SiteError(f"{path}.{key}", "is required")
    cid = _text(d["id"], f"{path}.id")
    return Cabinet(
        id=cid,
        name=_text(d.get("name", cid), f"{path}.name"),
        lat=_lat(d["lat"], f"{path}.lat"),
        lon=_lon(d["lon"], f"{path}.lon"),
        threshold_kw=_threshold(d["threshold_kw"], f"{path}.threshold_kw"),
    )


def _asset_from(d: Any, path: str) -> Asset:
    if not isinstance(d, dict):
        raise SiteError(path, "must be an object")
    for key in ("id", "kind", "cabinet", "lat", "lon", "rated_kw"):
        if key not in d:
            raise SiteError(f"{path}.{key}", "is required")
    aid = _text(d["id"], f"{path}.id")
    kind = AssetKind.parse(d["kind"], f"{path}.kind")
    nums = {}
    for key in _ASSET_NUMBERS:
        if key in d:
            nums[key] = _number(d[key], f"{path}.{key}", minimum=0.0)
    profile = _profile(d.get("profile", ""), kind, f"{path}.profile")
    return Asset(
        id=aid,
        name=_text(d.get("name", aid), f"{path}.name"),
        kind=kind,
        cabinet=_text(d["cabinet"], f"{path}.cabinet"),
        lat=_lat(d["lat"], f"{path}.lat"),
        lon=_lon(d["lon"], f"{path}.lon"),
        profile=profile,
        **nums,
    )


def _threshold(value: Any, field_name: str) -> float:
    return _number(value, field_name, positive=True, maximum=MAX_THRESHOLD_KW)


def _validated(site: Site) -> Site:
    """Check every rule again (after an edit too); raise :class:`SiteError` naming the first bad field.

    Thresholds in (0, 100 MW], ratings in (0, 100 MW], every cabinet and asset within
    :data:`MAX_DISTANCE_KM` of the site's centre, a known time zone, profiles by kind.
    """
    _timezone(site.timezone)
    _lat(site.lat, "lat")
    _lon(site.lon, "lon")
    seen: set[str] = set()
    for i, c in enumerate(site.cabinets):
        p = f"cabinets[{i}]"
        if c.id in seen:
            raise SiteError(f"{p}.id", f"duplicate id {c.id!r}")
        seen.add(c.id)
        _threshold(c.threshold_kw, f"{p}.threshold_kw")
        _near_site(site, _lat(c.lat, f"{p}.lat"), _lon(c.lon, f"{p}.lon"), p)
    cabinet_ids = set(seen)
    for i, a in enumerate(site.assets):
        p = f"assets[{i}]"
        if a.id in seen:
            raise SiteError(f"{p}.id", f"duplicate id {a.id!r}")
        seen.add(a.id)
        if a.cabinet not in cabinet_ids:
            raise SiteError(f"{p}.cabinet", f"unknown cabinet {a.cabinet!r}")
        _near_site(site, _lat(a.lat, f"{p}.lat"), _lon(a.lon, f"{p}.lon"), p)
        _number(a.rated_kw, f"{p}.rated_kw", positive=True, maximum=MAX_RATED_KW)
        _number(a.price_per_kwh, f"{p}.price_per_kwh", minimum=0.0, maximum=MAX_PRICE_PER_KWH)
        _profile(a.profile, a.kind, f"{p}.profile")
        if a.kind == AssetKind.BATTERY:
            _number(a.capacity_kwh, f"{p}.capacity_kwh", positive=True, maximum=MAX_CAPACITY_KWH)
            number(a.efficiency, f"{p}.efficiency", lo=0.0, lo_open=True, hi=1.0, interval=True, error=SiteError)
            number(a.min_soc, f"{p}.min_soc", lo=0.0, hi=1.0, interval=True, error=SiteError)
            if not a.min_soc <= a.initial_soc <= 1:
                raise SiteError(f"{p}.initial_soc", f"must be in [min_soc, 1], got {a.initial_soc:g}")
        elif a.capacity_kwh:
            raise SiteError(f"{p}.capacity_kwh", f"only a battery has a capacity ({a.kind.label})")
        if a.kind != AssetKind.CHARGE_POINT and a.price_per_kwh:
            raise SiteError(f"{p}.price_per_kwh", f"only a charge point has a price ({a.kind.label})")
    return site


def site_from_dict(d: Any) -> Site:
    """Build and validate a :class:`Site` from its JSON form.

    Raises
    ------
    SiteError
        On the first bad field, named in the message.
    """
    if not isinstance(d, dict):
        raise SiteError("site", "must be a JSON object")
    for key in ("name", "cabinets", "assets"):
        if key not in d:
            raise SiteError(key, "is required")
    if not isinstance(d["cabinets"], list) or not d["cabinets"]:
        raise SiteError("cabinets", "must be a non-empty list")
    if not isinstance(d["assets"], list):
        raise SiteError("assets", "must be a list")
    cabinets = tuple(_cabinet_from(c, f"cabinets[{i}]") for i, c in enumerate(d["cabinets"]))
    assets = tuple(_asset_from(a, f"assets[{i}]") for i, a in enumerate(d["assets"]))
    lat = d.get("lat", sum(c.lat for c in cabinets) / len(cabinets))
    lon = d.get("lon", sum(c.lon for c in cabinets) / len(cabinets))
    tz = _timezone(d.get("timezone", "UTC"))
    known = {"name", "timezone", "lat", "lon", "cabinets", "assets"}
    site = Site(
        name=_text(d["name"], "name", max_len=200),
        timezone=tz,
        lat=_lat(lat, "lat"),
        lon=_lon(lon, "lon"),
        cabinets=cabinets,
        assets=assets,
        extra={k: v for k, v in d.items() if k not in known},
    )
    return _validated(site)


def site_to_dict(site: Site) -> dict[str, Any]:
    """The JSON form of a site (inverse of :func:`site_from_dict`)."""
    out: dict[str, Any] = dict(site.extra)
    out.update(
        name=site.name,
        timezone=site.timezone,
        lat=site.lat,
        lon=site.lon,
        cabinets=[asdict(c) for c in site.cabinets],
        assets=[],
    )
    for a in site.assets:
        d = asdict(a)
        d["kind"] = a.kind.name.lower()
        out["assets"].append(d)
    return out


def load_site(path: str | os.PathLike[str]) -> Site:
    """Read and validate a site JSON file.

    Raises
    ------
    SiteError
        For a missing, unreadable, truncated or malformed file (field ``site``) or any bad field.
    """
    return site_from_dict(read_json(path, "site", SiteError, max_bytes=MAX_SITE_BYTES))


def site_json(site: Site) -> str:
    """The text of a site file: the validated site as indented JSON."""
    return json.dumps(site_to_dict(_validated(site)), indent=1) + "\n"


def save_site(site: Site, path: str | os.PathLike[str]) -> None:
    """Write a site atomically (a crash never leaves a half-written file)."""
    atomic_write_text(path, site_json(site))


def iter_assets(site: Site, kinds: Iterable[AssetKind] | None = None) -> Iterable[Asset]:
    """Assets of the given kinds (all when ``kinds`` is None)."""
    ks = set(kinds) if kinds is not None else None
    return (a for a in site.assets if ks is None or a.kind in ks)
