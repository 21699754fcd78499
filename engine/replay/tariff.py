"""Time-of-use tariffs in acnportal's JSON format (``data/tariffs/*.json``).

A tariff file has ``name`` and ``schedule[]`` entries with ``effective_start`` / ``effective_end``
(``MM-DD``, inclusive, possibly wrapping over new year), ``dow_mask`` (``ALL``, ``WEEKDAYS``,
``WEEKENDS``), ``times`` (hour boundaries of the periods, starting at 0) and ``tariffs``
($/kWh per period). The first entry matching a time wins, as in acnportal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from engine.files import read_json
from engine.replay.problem import ReplayError

__all__ = ["TARIFF_DIR", "DEFAULT_TARIFF", "Tariff", "available_tariffs", "load_tariff"]

TARIFF_DIR = Path(__file__).resolve().parents[2] / "data" / "tariffs"
DEFAULT_TARIFF = "sce_tou_ev_8_june_2019"
MAX_TARIFF_BYTES = 1 << 20
"""Largest tariff file read [bytes] (the shipped ones have about 2 kB)."""


def _md(text: str, field: str) -> tuple[int, int]:
    try:
        m, d = (int(x) for x in str(text).split("-"))
    except ValueError:
        raise ReplayError(field, f"not MM-DD: {text!r}") from None
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise ReplayError(field, f"not MM-DD: {text!r}")
    return m, d


@dataclass(frozen=True)
class _Entry:
    start: tuple[int, int]
    end: tuple[int, int]
    dow: str
    times: tuple[float, ...]
    prices: tuple[float, ...]

    def matches(self, t: datetime) -> bool:
        md = (t.month, t.day)
        if self.start <= self.end:
            in_season = self.start <= md <= self.end
        else:
            in_season = md >= self.start or md <= self.end
        if not in_season:
            return False
        weekend = t.weekday() >= 5
        return self.dow == "ALL" or (self.dow == "WEEKENDS") == weekend

    def price(self, t: datetime) -> float:
        hour = t.hour + t.minute / 60.0
        k = int(np.searchsorted(np.asarray(self.times), hour, side="right")) - 1
        return self.prices[max(k, 0)]


@dataclass(frozen=True)
class Tariff:
    """A time-of-use energy tariff.

    Parameters
    ----------
    name : str
        File stem, e.g. ``"sce_tou_ev_8_june_2019"``.
    title : str
        The tariff's own name, e.g. ``"SCE TOU-EV-8"``.
    entries : tuple
        Parsed schedule entries.
    """

    name: str
    title: str
    entries: tuple[_Entry, ...]

    def price_at(self, t: datetime) -> float:
        """Energy price at local time ``t`` [$/kWh] (0 when no entry matches)."""
        for e in self.entries:
            if e.matches(t):
                return e.price(t)
        return 0.0

    def prices(self, times: list[datetime]) -> np.ndarray:
        """Prices at each of ``times`` (local) [$/kWh]."""
        return np.array([self.price_at(t) for t in times], dtype=float)


def available_tariffs() -> list[str]:
    """Names of the shipped tariffs (file stems in ``data/tariffs``)."""
    return sorted(p.stem for p in TARIFF_DIR.glob("*.json"))


def _is_file(path: Path) -> bool:
    """``path`` is a file (False too for a name no file can have: too long, a NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_tariff(name: str) -> Tariff:
    """Load a shipped tariff by name, or a tariff JSON file by path.

    Parameters
    ----------
    name : str
        A name from :func:`available_tariffs` or a path to a ``.json`` file.

    Returns
    -------
    Tariff

    Raises
    ------
    ReplayError
        Unknown name or malformed file (field ``--tariff``).
    """
    path = Path(name)
    if not (path.suffix == ".json" and _is_file(path)):
        path = TARIFF_DIR / f"{name}.json"
    if not _is_file(path):
        raise ReplayError("--tariff", f"unknown tariff {name!r} (choose from {', '.join(available_tariffs())} or none)")
    d = read_json(path, "--tariff", ReplayError, max_bytes=MAX_TARIFF_BYTES)
    try:
        entries = []
        for i, s in enumerate(d["schedule"]):
            times = tuple(float(x) for x in s["times"])
            prices = tuple(float(x) for x in s["tariffs"])
            if len(times) != len(prices) or not times:
                raise ReplayError("--tariff", f"{path.name}: schedule[{i}] times and tariffs differ in length")
            dow = str(s.get("dow_mask", "ALL")).upper()
            if dow not in ("ALL", "WEEKDAYS", "WEEKENDS"):
                raise ReplayError("--tariff", f"{path.name}: schedule[{i}].dow_mask unknown: {dow}")
            entries.append(
                _Entry(
                    _md(s["effective_start"], "--tariff"),
                    _md(s["effective_end"], "--tariff"),
                    dow,
                    times,
                    prices,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ReplayError):
            raise
        raise ReplayError("--tariff", f"{path.name}: malformed tariff ({exc})") from None
    return Tariff(name=path.stem, title=str(d.get("name", path.stem)), entries=tuple(entries))
