"""What the driver tells the kiosk and what the kiosk answers: the need, the quote, the progress.

:func:`energy_from_soc` turns a battery size and two states of charge into the need [kWh];
:func:`departure_at` a clock time into the next such moment; :class:`KioskQuote` is the answer
to a need, :class:`Progress` where a booked session stands (metered, then planned). The limits
of what a driver may ask are here; every bad input raises :class:`KioskError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from engine.errors import FieldError
from engine.ledger import Status
from engine.runtime.journal import SessionRecord
from engine.validate import number

__all__ = [
    "KioskError",
    "energy_from_soc",
    "departure_at",
    "KioskQuote",
    "QuoteChanged",
    "quote_holds",
    "Progress",
    "MIN_ENERGY_KWH",
    "MAX_ENERGY_KWH",
    "HORIZON_HOURS",
]

MIN_ENERGY_KWH = 0.1
"""The smallest need a driver may ask for [kWh]."""
MAX_ENERGY_KWH = 200.0
"""The largest need, and the largest battery [kWh]."""
HORIZON_HOURS = 24
"""The furthest departure a driver may give [h from now]."""


class KioskError(FieldError):
    """A bad kiosk input; the message starts with the offending field (:class:`engine.errors.FieldError`)."""


def energy_from_soc(battery_kwh: float, soc_now_pct: float, soc_target_pct: float) -> float:
    """Energy a car needs to go from ``soc_now_pct`` to ``soc_target_pct`` [kWh].

    Parameters
    ----------
    battery_kwh : float
        Usable battery capacity [kWh], in (0, 200].
    soc_now_pct, soc_target_pct : float
        State of charge now and wanted [% of capacity], 0..100, target above now.
    """
    cap = number(battery_kwh, "battery_kwh", lo=0.0, hi=MAX_ENERGY_KWH, lo_open=True, interval=True, error=KioskError)
    now = number(soc_now_pct, "soc_now_pct", lo=0.0, hi=100.0, interval=True, error=KioskError)
    target = number(soc_target_pct, "soc_target_pct", lo=0.0, hi=100.0, interval=True, error=KioskError)
    if target <= now:
        raise KioskError("soc_target_pct", f"must be above the state of charge now ({now:g} %), got {target:g}")
    return cap * (target - now) / 100.0


def departure_at(now: datetime, clock_time: time) -> datetime:
    """The next moment the site's clock shows ``clock_time`` after ``now`` (today or tomorrow)."""
    t = now.replace(hour=clock_time.hour, minute=clock_time.minute, second=0, microsecond=0)
    return t if t > now else t + timedelta(days=1)


@dataclass(frozen=True)
class KioskQuote:
    """The kiosk's answer to a driver.

    Parameters
    ----------
    cp, cabinet : str
    now : datetime
        When the quote was made.
    departure : datetime
        The driver's departure.
    energy_kwh : float
        The driver's need [kWh].
    feasible : bool
        The whole need can be met by ``departure``.
    max_kwh : float
        The most the site can promise by ``departure`` (at most ``energy_kwh``) [kWh].
        The promise a booking on this quote gets.
    earliest_departure : datetime or None
        The earliest departure at which the whole need could be met (None: not within the horizon).
    solve_seconds : float
        Engine time [s].
    likely_kwh : float or None
        What the site expects to deliver in all, beyond the promise when it can [kWh].
    """

    cp: str
    cabinet: str
    now: datetime
    departure: datetime
    energy_kwh: float
    feasible: bool
    max_kwh: float
    earliest_departure: datetime | None
    solve_seconds: float
    likely_kwh: float | None = None

    @property
    def shortfall_kwh(self) -> float:
        """What cannot be promised by ``departure`` [kWh] (0 when feasible)."""
        return 0.0 if self.feasible else max(0.0, self.energy_kwh - self.max_kwh)

    @property
    def promise_kwh(self) -> float:
        """What booking on this quote promises: min(need, max_kwh) [kWh]."""
        return min(self.energy_kwh, self.max_kwh)


QUOTE_SLACK = 0.05
"""A booking may promise up to this share less than the quote the driver accepted [-]."""
QUOTE_SLACK_KWH = 0.1
"""... and never less than this much below it is refused [kWh]."""


class QuoteChanged(KioskError):
    """The site can no longer promise what the driver accepted (time passed, another car booked):
    nothing was booked; ``quote`` is the answer now.

    Parameters
    ----------
    quote : KioskQuote
        The answer at the moment of booking.
    accepted_kwh : float
        The promise the driver accepted [kWh].
    """

    def __init__(self, quote: KioskQuote, accepted_kwh: float) -> None:
        super().__init__("quote", f"the site can now guarantee {quote.promise_kwh:.2f} kWh by "
                                  f"{quote.departure:%H:%M}, not the {accepted_kwh:.2f} kWh quoted")
        self.quote = quote
        self.accepted_kwh = accepted_kwh


def quote_holds(now_kwh: float, accepted_kwh: float) -> bool:
    """Whether a promise of ``now_kwh`` still honours an accepted ``accepted_kwh`` [kWh]
    (within :data:`QUOTE_SLACK` and :data:`QUOTE_SLACK_KWH`)."""
    return now_kwh >= accepted_kwh - max(QUOTE_SLACK_KWH, QUOTE_SLACK * accepted_kwh)


@dataclass(frozen=True)
class Progress:
    """Where a session stands at ``now``: what was metered, and the plan ahead.

    Parameters
    ----------
    session : SessionRecord
    now : datetime
    delivered_kwh : float
        Energy metered so far [kWh].
    power_kw : float
        Metered power now [kW].
    rated_kw : float
        The charge point's rating [kW].
    soc_pct : float or None
        State of charge now [%] (reported by the car, or from the driver's battery and SOC).
    status : Status
        OCPP status of the charge point.
    times : list of datetime
        Metered then planned times of the energy curve.
    energy_kwh : list of float
        Energy at ``times`` [kWh] (metered up to ``now``, planned after).
    metered_points : int
        How many of ``times`` are metered (the rest is the plan).
    projected_kwh : float
        Energy by the stated departure if the plan holds [kWh].
    projected_finish : datetime or None
        When the plan completes the need (None: not by the departure).
    on_track : bool
        The promise will be kept if the plan holds.
    price_per_kwh : float
        The charge point's price [currency/kWh].
    """

    session: SessionRecord
    now: datetime
    delivered_kwh: float
    power_kw: float
    rated_kw: float
    soc_pct: float | None
    status: Status
    times: list[datetime] = field(default_factory=list)
    energy_kwh: list[float] = field(default_factory=list)
    metered_points: int = 0
    projected_kwh: float = 0.0
    projected_finish: datetime | None = None
    on_track: bool = True
    price_per_kwh: float = 0.0

    @property
    def soc_curve_pct(self) -> list[float] | None:
        """State of charge at ``times`` [%] (None without a battery size)."""
        s = self.session
        if not s.battery_kwh or s.soc_now_pct is None:
            return None
        return [min(100.0, s.soc_now_pct + 100.0 * e / s.battery_kwh) for e in self.energy_kwh]

    @property
    def cost(self) -> float:
        """What the energy so far costs the driver [currency]."""
        return self.delivered_kwh * self.price_per_kwh
