"""Promises to drivers: who is still to come (forecast) and what each arriving driver is promised.

Public API (numpydoc in the modules; measurements in ``docs/promises.md``)
-------------------------------------------------------------------------
``decide_promises(scenario, cabinet_id, present, requests, forecast=None, policy=DEFAULT_POLICY)``
    -> :class:`PromiseResult` (per request ``promised_kwh``, ``likely_kwh``, ``full``; raised
    promises of present cars in ``upgrades``). The one entry point of the kiosk and of the
    replay's ``mpc``.
``forecast_from_history(history, now, start, step_minutes, horizon_steps, days=10)`` -> :class:`Forecast`
    Expected arrivals of the rest of today from past days of the same kind (weekday/weekend);
    ``history`` is a list of :class:`PastSession` (arrival, departure, kWh).
``StayModel.from_history(history, now)`` -> :class:`StayModel`
    Likely stays learned from past stated against actual departures (``likely_departure``).
``POLICIES`` / ``DEFAULT_POLICY``
    ``("fcfs", "admit", "admit_reserve", "admit_now")`` / ``"admit"``.
"""

from engine.promises.forecast import (
    DEFAULT_DAYS,
    ExpectedArrival,
    Forecast,
    PastSession,
    forecast_from_history,
)
from engine.promises.policy import (
    DEFAULT_POLICY,
    POLICIES,
    RESERVE,
    PromiseDecision,
    PromiseResult,
    decide_promises,
)
from engine.promises.stay import StayModel

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_POLICY",
    "POLICIES",
    "RESERVE",
    "ExpectedArrival",
    "Forecast",
    "PastSession",
    "PromiseDecision",
    "PromiseResult",
    "StayModel",
    "decide_promises",
    "forecast_from_history",
]
