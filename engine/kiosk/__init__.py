"""The driver kiosk: a need in, a quote out, a booking the site's runtime charges, its progress.

:mod:`~engine.kiosk.answers` holds what the driver says and is told (the need, ``KioskQuote``,
``Progress``, ``KioskError``); :mod:`~engine.kiosk.service` the use case (``Kiosk``: quote,
book, progress over the runtime's journal).
"""

from engine.kiosk.answers import (
    HORIZON_HOURS,
    MAX_ENERGY_KWH,
    MIN_ENERGY_KWH,
    KioskError,
    KioskQuote,
    Progress,
    QuoteChanged,
    departure_at,
    energy_from_soc,
)
from engine.kiosk.service import ASK_BEYOND_HOURS, FORECAST_DAYS, Kiosk

__all__ = [
    "KioskError",
    "energy_from_soc",
    "departure_at",
    "KioskQuote",
    "QuoteChanged",
    "Progress",
    "Kiosk",
    "MIN_ENERGY_KWH",
    "MAX_ENERGY_KWH",
    "HORIZON_HOURS",
    "ASK_BEYOND_HOURS",
    "FORECAST_DAYS",
]
