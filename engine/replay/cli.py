"""``python -m engine replay [options]``: replay ACN sessions through one strategy.

Prints one JSON object of KPIs on stdout and exits 0; a bad option exits 2 with one line on
stderr naming the option. Progress goes to stderr (``--quiet`` silences it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Sequence

from engine.errors import os_reason
from engine.files import atomic_write_text
from engine.promises import DEFAULT_POLICY, POLICIES
from engine.replay.acn import ACN_TZ, SITES, default_paths
from engine.replay.loader import load_window
from engine.replay.options import (
    DEMANDS,
    DEPARTURES,
    MAX_DAYS,
    QUOTE_ORDERS,
    REPLANS,
    TIEBREAKS,
    window_options,
)
from engine.replay.problem import ReplayError
from engine.replay.simulate import ReplayConfig, run_replay
from engine.replay.site_journal import read_journal
from engine.replay.strategies import ALGORITHMS
from engine.replay.tariff import DEFAULT_TARIFF, load_tariff

__all__ = ["main", "build_parser"]

ALGO_CHOICES = ALGORITHMS + ("all",)
DEFAULT_START = "2019-05-06"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise _UsageError(message.replace("\n", " "))


def build_parser() -> argparse.ArgumentParser:
    """The replay command's argument parser."""
    p = _Parser(
        prog="python -m engine replay",
        description="Replay real ACN-Data sessions through a charging strategy; prints KPIs as JSON.",
    )
    p.add_argument("--sessions", action="append", metavar="PATH",
                   help="ACN-Data .csv/.csv.gz file (repeatable); default: the shipped files of --site")
    p.add_argument("--journal", metavar="PATH",
                   help="replay the live site's journal (EV_STATE_DIR/journal.sqlite, or an older sessions.jsonl); announced "
                        "departures are taken as real, requests as needs")
    p.add_argument("--site", default="caltech", choices=SITES,
                   help="shipped data set used when --sessions is not given (default caltech)")
    p.add_argument("--start", default=None, metavar="YYYY-MM-DD",
                   help=f"first local day, America/Los_Angeles (default {DEFAULT_START}; with --journal "
                        "and no --sessions: the journal's first day)")
    p.add_argument("--days", type=int, default=None,
                   help=f"number of days, at most {MAX_DAYS} (default 1; with --journal and no --start: "
                        "up to the journal's last day)")
    p.add_argument("--step-minutes", type=int, default=5, help="step length in minutes (default 5)")
    p.add_argument("--threshold-kw", type=float, default=50.0,
                   help="the site cabinet's import limit in kW (default 50)")
    p.add_argument("--rated-kw", type=float, default=6.6,
                   help="every charge point's rating in kW (default 6.6)")
    p.add_argument("--departure", default="actual", choices=DEPARTURES,
                   help="deadline the strategy is told (default actual)")
    p.add_argument("--algorithm", default="mpc", choices=ALGO_CHOICES,
                   help="strategy (default mpc); 'all' prints {\"results\": [...]} with one KPI object each")
    p.add_argument("--demand", default="delivered", choices=DEMANDS,
                   help="the driver's need: energy actually delivered at the real site (ACN-Sim convention, "
                        "default) or the claimed request")
    p.add_argument("--no-force-feasible", action="store_true",
                   help="keep demands above rated_kw x stay (default: lowered to it, as acnportal)")
    p.add_argument("--tariff", default=None, metavar="NAME|none",
                   help="TOU tariff in data/tariffs for energy_cost (default sce_tou_ev_8_june_2019)")
    p.add_argument("--replan", default="events", choices=REPLANS,
                   help="mpc re-plans on events (arrival, early departure, passed deadline; default) or every step")
    p.add_argument("--mpc-prices", action="store_true",
                   help="give mpc the tariff (engine stage 4 minimises cost online); default price-blind")
    p.add_argument("--tiebreak", default="promises", choices=TIEBREAKS,
                   help="how mpc splits the planned load among cars: promises first then by deadline "
                        "(default), by deadline only, or the engine's own split")
    p.add_argument("--quote-order", default="need", choices=QUOTE_ORDERS,
                   help="order in which mpc quotes drivers arriving at the same step: smallest request "
                        "first (default) or data order (real connection time)")
    p.add_argument("--promise-policy", default=DEFAULT_POLICY, choices=POLICIES,
                   help=f"how mpc decides promises (default {DEFAULT_POLICY}; fcfs = min(need, quote) in "
                        "arrival order; see docs/promises.md)")
    p.add_argument("--detail", metavar="FILE",
                   help="also write per-session results and the load series as JSON to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after ``replay`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a bad option or input.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        return _run(args)
    except ReplayError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2


def _check_input(option: str, path: str) -> Path:
    """Fail before the run if an input path cannot be looked at (exit 2 naming ``option``).

    A name the system refuses (too long, a loop of links) raises ``OSError`` from any look at
    it, ``Path.exists`` included; it is said here, once, instead of as a traceback later.
    """
    p = Path(path)
    try:
        p.stat()
    except FileNotFoundError:
        raise ReplayError(option, f"no such file: {path}") from None
    except (OSError, ValueError) as exc:
        raise ReplayError(option, f"cannot read {path}: {os_reason(exc)}") from None
    return p


def _check_detail(path: str) -> Path:
    """Fail before the run if ``--detail`` cannot be written (exit 2 naming it)."""
    p = Path(path)
    try:
        if not path.strip() or p.is_dir():
            raise ReplayError("--detail", f"not a file path: {path!r}")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".check")
        os.close(fd)
        os.unlink(tmp)
    except (OSError, ValueError) as exc:
        raise ReplayError("--detail", f"cannot write {path}: {os_reason(exc)}") from None
    return p


def journal_days(journal: str | Path) -> tuple[date, int]:
    """The first local day of a kiosk journal and the number of days up to its last arrival.

    Reads the journal through :func:`engine.replay.site_journal.read_journal`.
    """
    sessions, _ = read_journal(journal)
    if not sessions:
        raise ReplayError("--journal", f"no valid session in {journal}")
    first = min(s.arrival for s in sessions).astimezone(ACN_TZ).date()
    last = max(s.arrival for s in sessions).astimezone(ACN_TZ).date()
    return first, (last - first).days + 1


def _run(args: argparse.Namespace) -> int:
    if args.journal:
        _check_input("--journal", args.journal)
    journal_only = bool(args.journal) and not args.sessions
    if args.start is None and journal_only:
        start, span = journal_days(args.journal)
        args.start = start.isoformat()
        if args.days is None:
            args.days = span
    if args.start is None:
        args.start = DEFAULT_START
    if args.days is None:
        args.days = 1
    tariff = args.tariff if args.tariff is not None else DEFAULT_TARIFF
    tariff = None if tariff.lower() == "none" else tariff
    config = ReplayConfig(threshold_kw=args.threshold_kw, rated_kw=args.rated_kw, departure=args.departure,
                          tariff=tariff, replan=args.replan, mpc_prices=args.mpc_prices,
                          tiebreak=args.tiebreak, quote_order=args.quote_order,
                          promise_policy=args.promise_policy)
    # every option is checked before anything is read or run, each by its one validator
    window_options(args.start, args.days, args.step_minutes, args.rated_kw, args.demand)
    config.validate()
    if tariff:
        load_tariff(tariff)  # fail early, naming --tariff
    detail_path = _check_detail(args.detail) if args.detail else None
    if args.sessions:
        paths = [_check_input("--sessions", p) for p in args.sessions]
    else:
        paths = [] if args.journal else default_paths(args.site)
    quiet = args.quiet

    def say(msg: str) -> None:
        if not quiet:
            print(f"replay: {msg}", file=sys.stderr, flush=True)

    say(f"loading {len(paths)} file(s)" + (f" and the journal {args.journal}" if args.journal else ""))
    window = load_window(paths, args.start, args.days, args.step_minutes, args.rated_kw, args.demand,
                         not args.no_force_feasible, journal=args.journal)
    rep = window.report
    if window.n == 0:
        where = "--journal" if journal_only else "--start"
        raise ReplayError(where, f"no session in the window {window.start.date()} + {args.days} day(s) "
                                 f"of {', '.join(rep.files) or 'the files'}")
    say(f"{window.n} sessions from {window.start.date()} for {args.days} day(s); "
        f"{rep.skipped_total()} skipped {rep.skipped or ''} clipped {rep.clipped or ''}; "
        f"{rep.no_driver_input} without driver input (need = energy taken)")
    algos = list(ALGORITHMS) if args.algorithm == "all" else [args.algorithm]
    results = []
    for name in algos:
        last = [-1]

        def progress(frac: float, msg: str, name: str = name) -> None:
            pct = int(frac * 10) * 10
            if pct != last[0]:
                last[0] = pct
                say(f"{name} {pct}%")

        results.append(run_replay(window, name, config, progress))
    if args.detail:
        detail = {
            "report": rep.to_dict(),
            "results": [{"kpis": r.kpis, "sessions": r.sessions_table(), "load": r.load_table()} for r in results],
        }
        try:
            atomic_write_text(detail_path, json.dumps(detail))
        except OSError as exc:  # checked before the run; the disk may have filled since
            raise ReplayError("--detail", f"cannot write {args.detail}: {os_reason(exc)}") from None
        say(f"detail written to {args.detail}")
    if args.algorithm == "all":
        out: dict = {"algorithm": "all", "results": [r.kpis for r in results]}
    else:
        out = results[0].kpis
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
