"""Analyst replay: real ACN-Data sessions through seven charging strategies.

The contract is ``docs/replay.md``; ``python -m engine replay`` is the CLI
(:func:`engine.replay.cli.main`). Pure Python, no streamlit.

Modules: :mod:`~engine.replay.problem` (what every strategy sees), :mod:`~engine.replay.acn`,
:mod:`~engine.replay.site_journal`, :mod:`~engine.replay.window` and :mod:`~engine.replay.loader`
(reading sessions onto a step grid), :mod:`~engine.replay.options` (every option checked once),
:mod:`~engine.replay.strategies`, :mod:`~engine.replay.mpc` (the live control loop,
:mod:`engine.runtime.loop`) and :mod:`~engine.replay.offline_met`, :mod:`~engine.replay.simulate`,
:mod:`~engine.replay.kpi`, :mod:`~engine.replay.tariff`.

Public API
----------
``replay(algorithm, *, sessions=None, start="2019-05-06", days=1, step_minutes=5,
threshold_kw=50, rated_kw=6.6, departure="actual", demand="delivered", tariff=DEFAULT_TARIFF,
replan="events", mpc_prices=False, tiebreak="promises", quote_order="need", promise_policy="admit",
journal=None, progress=None) -> ReplayResult``
    Load sessions and replay them through one strategy.
``load_window(paths, start, days, step_minutes, rated_kw, demand, force_feasible) -> ReplayWindow``
    Read ACN CSV(.gz) files (memoised) and put a window's sessions on the step grid;
    ``ReplayWindow.report`` is the :class:`LoadReport` (rows read, skipped by reason, clipped).
``run_replay(window, algorithm, config=ReplayConfig(...), progress=None) -> ReplayResult``
    Replay a loaded window (load once, run several strategies).
``ReplayResult``
    ``.kpis`` (the spec's KPI object), ``.delivered_kwh`` per session, ``.power_kw`` (n x T),
    ``.load_kw`` per step, ``.step_times``, ``.problem`` (windows, deadlines, demands, prices),
    ``.sessions_table()`` / ``.load_table()`` (rows for tables and CSV), ``.detail()``.
``ALGORITHMS``
    ``("uncontrolled", "round_robin", "edf", "llf", "mpc", "offline", "offline_met")``.
``default_paths(site)`` / ``data_range(paths)`` / ``SITES``
    The shipped data sets (``data/acn/caltech``, ``data/acn/jpl``) and their date range.
``available_tariffs()`` / ``load_tariff(name)`` / ``DEFAULT_TARIFF``
    TOU tariffs in ``data/tariffs``.
``ReplayError``
    Bad input; ``.field`` names the option (``"--threshold-kw"``), as the CLI prints it
    (:mod:`engine.replay.options`).
"""

from engine.replay.acn import SITES, LoadReport, default_paths
from engine.replay.kpi import KPI_KEYS, compute_kpis
from engine.replay.loader import data_range, load_window
from engine.replay.problem import ReplayError
from engine.replay.simulate import (
    DEFAULT_THRESHOLD_KW,
    ReplayConfig,
    ReplayResult,
    replay,
    run_replay,
)
from engine.replay.strategies import ALGORITHMS
from engine.replay.tariff import DEFAULT_TARIFF, available_tariffs, load_tariff
from engine.replay.window import ReplayWindow

__all__ = [
    "ALGORITHMS",
    "KPI_KEYS",
    "SITES",
    "DEFAULT_TARIFF",
    "DEFAULT_THRESHOLD_KW",
    "LoadReport",
    "ReplayConfig",
    "ReplayError",
    "ReplayResult",
    "ReplayWindow",
    "available_tariffs",
    "compute_kpis",
    "data_range",
    "default_paths",
    "load_tariff",
    "load_window",
    "replay",
    "run_replay",
]
