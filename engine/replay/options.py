"""The replay's options, checked in one place with the engine's validators (:mod:`engine.validate`).

The CLI (:mod:`engine.replay.cli`), the Python API (:func:`engine.replay.replay`,
:func:`engine.replay.load_window`, :class:`engine.replay.ReplayConfig`), ``mpc`` itself and the
app's page all come here, so an option is judged the same way everywhere and every error names
it as the CLI spells it (``"--threshold-kw: must be >= 0, got -5"``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.promises import POLICIES
from engine.replay.problem import ReplayError
from engine.validate import choice, integer, number

__all__ = [
    "MAX_DAYS",
    "DEMANDS",
    "DEPARTURES",
    "REPLANS",
    "TIEBREAKS",
    "QUOTE_ORDERS",
    "STAYS",
    "window_options",
    "run_options",
    "strategy_options",
    "STRATEGY_FIELDS",
]

MAX_DAYS = 366
DEMANDS = ("delivered", "requested")
DEPARTURES = ("actual", "estimated")
REPLANS = ("events", "every")
TIEBREAKS = ("promises", "deadline", "engine")
QUOTE_ORDERS = ("need", "arrival")
STAYS = ("learned", "stated")
FIRST_YEAR, LAST_YEAR = 1971, 9000


def _rated_kw(value: Any) -> float:
    return number(value, "--rated-kw", lo=0, lo_open=True, error=ReplayError)


def window_options(start: date | str, days: Any, step_minutes: Any, rated_kw: Any,
                   demand: Any) -> tuple[date, int, int, float, str]:
    """The options that choose and grid a window, checked.

    Parameters
    ----------
    start : date or str
        First local day (``YYYY-MM-DD``), between 1971 and 9000.
    days : int
        1 to :data:`MAX_DAYS`.
    step_minutes : int
        A positive divisor of 1440.
    rated_kw : float
        > 0 [kW].
    demand : {"delivered", "requested"}

    Returns
    -------
    (date, int, int, float, str)
        ``start`` as a date and the others as given.

    Raises
    ------
    ReplayError
        Naming the option (``--start``, ``--days``, ``--step-minutes``, ``--rated-kw``, ``--demand``).
    """
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ReplayError("--start", f"not a date YYYY-MM-DD: {start!r}") from None
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise ReplayError("--start", f"out of range: {start.isoformat()!r} (years {FIRST_YEAR} to {LAST_YEAR})")
    days = integer(days, "--days", lo=1, hi=MAX_DAYS, error=ReplayError)
    step = integer(step_minutes, "--step-minutes", lo=1, hi=1440, error=ReplayError)
    if 1440 % step:
        raise ReplayError("--step-minutes", f"must be a divisor of 1440, got {step}")
    return start, days, step, _rated_kw(rated_kw), choice(demand, "--demand", DEMANDS, error=ReplayError)


STRATEGY_FIELDS = ("--replan", "--tiebreak", "--quote-order", "--promise-policy")


def strategy_options(replan: Any, tiebreak: Any, quote_order: Any, promise_policy: Any, *,
                     fields: tuple[str, str, str, str] = STRATEGY_FIELDS) -> None:
    """``mpc``'s options, checked.

    ``fields`` names them in errors: the CLI's spelling by default, the Python parameters'
    when :class:`engine.replay.mpc.ModelPredictive` is built directly.
    """
    for value, name, options in zip((replan, tiebreak, quote_order, promise_policy), fields,
                                    (REPLANS, TIEBREAKS, QUOTE_ORDERS, POLICIES)):
        choice(value, name, options, error=ReplayError)


def run_options(threshold_kw: Any, rated_kw: Any, departure: Any, replan: Any, tiebreak: Any, quote_order: Any,
                promise_policy: Any) -> None:
    """The options of a run on a loaded window, checked (:meth:`engine.replay.ReplayConfig.validate`).

    Raises
    ------
    ReplayError
        Naming the option: ``--threshold-kw`` (>= 0), ``--rated-kw`` (> 0), ``--departure``, and
        those of :func:`strategy_options`.
    """
    number(threshold_kw, "--threshold-kw", lo=0, error=ReplayError)
    _rated_kw(rated_kw)
    choice(departure, "--departure", DEPARTURES, error=ReplayError)
    strategy_options(replan, tiebreak, quote_order, promise_policy)
