"""``python -m engine replay [options]``: replay ACN sessions through one strategy.

Prints one JSON object of KPIs on stdout and exits 0; a bad option exits 2 with one line on
stderr naming the option. Progress goes to stderr (``--quiet`` silences it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Sequence

from engine.promises import DEFAULT_POLICY, POLICIES
from engine.replay.mpc import QUOTE_ORDERS

__all__ = ["main", "build_parser"]

ALGO_CHOICES = ("uncontrolled", "round_robin", "edf", "llf", "mpc", "offline", "offline_met", "all")
DEFAULT_START = "2019-05-06"
MAX_DAYS = 366


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise _UsageError(message.replace("\n", " "))


def number(text: str) -> float:
    """A finite float (argparse type; its name appears in error messages)."""
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(text)
    return v


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
    p.add_argument("--site", default="caltech", choices=("caltech", "jpl"),
                   help="shipped data set used when --sessions is not given (default caltech)")
    p.add_argument("--start", default=None, metavar="YYYY-MM-DD",
                   help=f"first local day, America/Los_Angeles (default {DEFAULT_START}; with --journal "
                        "and no --sessions: the journal's first day)")
    p.add_argument("--days", type=int, default=None,
                   help=f"number of days, at most {MAX_DAYS} (default 1; with --journal and no --start: "
                        "up to the journal's last day)")
    p.add_argument("--step-minutes", type=int, default=5, help="step length in minutes (default 5)")
    p.add_argument("--threshold-kw", type=number, default=50.0,
                   help="the site cabinet's import limit in kW (default 50)")
    p.add_argument("--rated-kw", type=number, default=6.6,
                   help="every charge point's rating in kW (default 6.6)")
    p.add_argument("--departure", default="actual", choices=("actual", "estimated"),
                   help="deadline the strategy is told (default actual)")
    p.add_argument("--algorithm", default="mpc", choices=ALGO_CHOICES,
                   help="strategy (default mpc); 'all' prints {\"results\": [...]} with one KPI object each")
    p.add_argument("--demand", default="delivered", choices=("delivered", "requested"),
                   help="the driver's need: energy actually delivered at the real site (ACN-Sim convention, "
                        "default) or the claimed request")
    p.add_argument("--no-force-feasible", action="store_true",
                   help="keep demands above rated_kw x stay (default: lowered to it, as acnportal)")
    p.add_argument("--tariff", default=None, metavar="NAME|none",
                   help="TOU tariff in data/tariffs for energy_cost (default sce_tou_ev_8_june_2019)")
    p.add_argument("--replan", default="events", choices=("events", "every"),
                   help="mpc re-plans on events (arrival, early departure, passed deadline; default) or every step")
    p.add_argument("--mpc-prices", action="store_true",
                   help="give mpc the tariff (engine stage 4 minimises cost online); default price-blind")
    p.add_argument("--tiebreak", default="deadline", choices=("deadline", "engine"),
                   help="how mpc splits the planned load among cars (default deadline)")
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


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    from engine.replay.loader import ReplayError

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


def _check_detail(path: str) -> Path:
    """Fail before the run if ``--detail`` cannot be written (exit 2 naming it)."""
    from engine.replay.loader import ReplayError

    p = Path(path)
    if not path.strip() or p.is_dir():
        raise ReplayError("--detail", f"not a file path: {path!r}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".check")
        os.close(fd)
        os.unlink(tmp)
    except (OSError, ValueError) as exc:
        raise ReplayError("--detail", f"cannot write {path}: {exc}") from None
    return p


def journal_days(journal: str | Path) -> tuple[date, int]:
    """The first local day of a kiosk journal and the number of days up to its last arrival.

    Reads the journal through :func:`engine.replay.loader.read_journal` (the one reader).
    """
    from engine.replay.loader import ACN_TZ, ReplayError, read_journal

    sessions, _ = read_journal(journal)
    if not sessions:
        raise ReplayError("--journal", f"no valid session in {journal}")
    first = min(s.arrival for s in sessions).astimezone(ACN_TZ).date()
    last = max(s.arrival for s in sessions).astimezone(ACN_TZ).date()
    return first, (last - first).days + 1


def _run(args: argparse.Namespace) -> int:
    from engine.replay.loader import ReplayError, default_paths, load_window
    from engine.replay.simulate import ReplayConfig, run_replay
    from engine.replay.strategies import ALGORITHMS
    from engine.replay.tariff import DEFAULT_TARIFF, load_tariff

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
    try:
        first = date.fromisoformat(args.start)
    except ValueError:
        raise ReplayError("--start", f"not a date YYYY-MM-DD: {args.start!r}") from None
    if args.days < 1 or args.days > MAX_DAYS:
        raise ReplayError("--days", f"must be between 1 and {MAX_DAYS}")
    if first.year < 1971 or first.year > 9000:
        raise ReplayError("--start", f"out of range: {args.start!r}")
    if args.step_minutes < 1 or 1440 % args.step_minutes:
        raise ReplayError("--step-minutes", "must be a positive divisor of 1440")
    if args.threshold_kw < 0:
        raise ReplayError("--threshold-kw", "must be >= 0")
    if args.rated_kw <= 0:
        raise ReplayError("--rated-kw", "must be > 0")
    tariff = args.tariff if args.tariff is not None else DEFAULT_TARIFF
    tariff = None if tariff.lower() == "none" else tariff
    if tariff:
        load_tariff(tariff)  # fail early, naming --tariff
    detail_path = _check_detail(args.detail) if args.detail else None
    if args.sessions:
        paths = [Path(p) for p in args.sessions]
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
    config = ReplayConfig(threshold_kw=args.threshold_kw, rated_kw=args.rated_kw, departure=args.departure,
                          tariff=tariff, replan=args.replan, mpc_prices=args.mpc_prices,
                          tiebreak=args.tiebreak, quote_order=args.quote_order,
                          promise_policy=args.promise_policy)
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
        _write_atomic(detail_path, json.dumps(detail))
        say(f"detail written to {args.detail}")
    if args.algorithm == "all":
        out: dict = {"algorithm": "all", "results": [r.kpis for r in results]}
    else:
        out = results[0].kpis
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
