"""The runtime's ports: the charger port and the registry of its implementations.

The control loop (:mod:`engine.runtime.loop`) reaches the charge points only through
:class:`ChargerPort`, the way acnportal's algorithms see the simulator only through its
``Interface`` and evcc's site loop sees a wallbox only through ``api.Charger`` and
``api.Meter``. Two implementations:

* ``sim`` - :class:`engine.runtime.simulator.SimulatedChargers`, cars with their own physics;
* ``ocpp`` - the OCPP 1.6J central system in ``gateway.ocpp16`` (outside ``engine/``: it needs
  asyncio and sockets). The engine never imports it: :func:`make_chargers` loads it by the
  dotted name registered here, as evcc registers chargers by type.

Units: power [kW], energy [kWh], state of charge [%], times are timezone-aware site-local
datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from engine.errors import FieldError
from engine.registry import load_by_name
from engine.ledger import Status

__all__ = [
    "ChargerReading",
    "ChargerEvent",
    "EventKind",
    "Setpoint",
    "ChargerPort",
    "ChargerError",
    "register_chargers",
    "make_chargers",
    "charger_kinds",
]


class ChargerError(FieldError):
    """A bad charger setting or command; names the field (e.g. ``EV_CHARGERS``, ``cp``)."""


@dataclass(frozen=True)
class ChargerReading:
    """What one charge point measures now.

    Parameters
    ----------
    cp : str
        Charge point id.
    status : Status
        Its OCPP 1.6 status.
    power_kw : float
        Power drawn now [kW].
    energy_kwh : float
        Energy delivered in the current transaction [kWh] (0 without one).
    meter_kwh : float
        The charge point's energy register, never decreasing [kWh].
    soc_pct : float or None
        The car's state of charge [%] when the car or the driver told it.
    transaction : str or None
        The current transaction (session) id, None when no car is plugged in.
    at : datetime or None
        When it was measured.
    """

    cp: str
    status: Status
    power_kw: float
    energy_kwh: float
    meter_kwh: float = 0.0
    soc_pct: float | None = None
    transaction: str | None = None
    at: datetime | None = None

    @property
    def plugged(self) -> bool:
        """A car is connected (a transaction is open)."""
        return self.transaction is not None


class EventKind:
    """Kinds of :class:`ChargerEvent` (strings, as they are journaled)."""

    PLUGGED = "plugged"  # a car connected and a transaction started
    UNPLUGGED = "unplugged"  # the transaction ended (car left or was stopped)
    FAULT = "fault"  # the charge point reports a fault
    RECOVERED = "recovered"  # the fault cleared
    CONNECTED = "connected"  # (OCPP) the charge point connected or reconnected
    DISCONNECTED = "disconnected"  # (OCPP) the charge point's connection dropped
    NONCOMPLIANT = "noncompliant"  # draws above its limit


@dataclass(frozen=True)
class ChargerEvent:
    """Something that happened at a charge point (drained by the control loop).

    Parameters
    ----------
    kind : str
        One of :class:`EventKind`.
    cp : str
    at : datetime
    transaction : str or None
        The transaction it concerns.
    detail : dict
        Kind-specific data (e.g. ``soc_pct``, ``reason``).
    """

    kind: str
    cp: str
    at: datetime
    transaction: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Setpoint:
    """The power a charge point may draw, now and ahead (the plan's periods).

    Parameters
    ----------
    cp : str
    power_kw : float
        Limit from ``start`` until the next period [kW] (``schedule_kw[0]``).
    start : datetime
        Start of the first period.
    step_minutes : float
        Length of each period [min].
    schedule_kw : tuple of float
        The limit of each period from ``start`` [kW]; after the last one the limit is 0.
    """

    cp: str
    power_kw: float
    start: datetime
    step_minutes: float
    schedule_kw: tuple[float, ...] = ()

    def limit_at(self, t: datetime) -> float:
        """The limit in force at ``t`` [kW]."""
        if not self.schedule_kw:
            return self.power_kw
        k = int((t - self.start).total_seconds() // (60.0 * self.step_minutes))
        if k < 0:
            return self.schedule_kw[0]
        return self.schedule_kw[k] if k < len(self.schedule_kw) else 0.0


@runtime_checkable
class ChargerPort(Protocol):
    """What the control loop needs of the site's charge points."""

    def read(self, now: datetime) -> dict[str, ChargerReading]:
        """Every charge point's measurement at ``now`` (the simulator advances to ``now``)."""
        ...

    def events(self) -> list[ChargerEvent]:
        """Events since the last call, oldest first (each returned once)."""
        ...

    def apply(self, setpoints: Sequence[Setpoint]) -> None:
        """Set these charge points' limits (others keep theirs)."""
        ...

    def stop(self, cp: str) -> None:
        """End the transaction at ``cp`` (the driver pressed Stop, or a remote stop)."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


_REGISTRY: dict[str, str | Callable[..., ChargerPort]] = {
    "sim": "engine.runtime.simulator:SimulatedChargers",
    "ocpp": "gateway.ocpp16.port:OcppChargers",
}


def register_chargers(name: str, factory: str | Callable[..., ChargerPort]) -> None:
    """Register a charger port implementation by name (a factory or ``"module:attr"``)."""
    _REGISTRY[name] = factory


def charger_kinds() -> list[str]:
    """Registered implementation names."""
    return sorted(_REGISTRY)


def make_chargers(name: str, **kwargs: Any) -> ChargerPort:
    """Build the charger port registered as ``name`` with ``kwargs``.

    Raises
    ------
    ChargerError
        ``EV_CHARGERS`` names no registered implementation, or it cannot be loaded.
    """
    key = (name or "").strip().lower()
    factory = _REGISTRY.get(key)
    if factory is None:
        raise ChargerError("EV_CHARGERS", f"must be one of {', '.join(charger_kinds())}, got {name!r}")
    if isinstance(factory, str):
        try:
            factory = load_by_name(factory)
        except (ImportError, AttributeError) as exc:
            raise ChargerError("EV_CHARGERS", f"{key}: cannot load {factory} ({exc})") from None
    return factory(**kwargs)
