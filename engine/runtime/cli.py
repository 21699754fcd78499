"""``python -m engine run``: the live site's runtime without the app.

``python -m engine run --site data/site.json --day 2019-10-29 --headless --json
[--chain-outage 10:00-11:00] [--no-chain] [--seed N] [--state DIR]`` runs that day's real ACN
arrivals through the whole stack at full speed (:mod:`engine.runtime.headless`); progress goes to
stderr, the last stdout line is the day's figures as JSON. Bad options: exit 2 and one line
naming the option.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn, Sequence

from engine.errors import FieldError, os_reason
from engine.runtime.headless import HeadlessError, parse_outage, run_day
from engine.site.model import load_site
from engine.site.store import DEFAULT_SITE
from engine.timezone import site_tz

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"python -m engine run: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m engine run", description="Run the live site's control loop headless over a real day.")
    ap.add_argument("--site", default=None, help="site file (default: the sample site data/site.json)")
    ap.add_argument("--day", required=True, help="local day of the site, YYYY-MM-DD (its real ACN arrivals)")
    ap.add_argument("--headless", action="store_true", required=True, help="run at full speed without the app")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line (always the last line)")
    ap.add_argument("--chain-outage", default=None, metavar="HH:MM-HH:MM", help="refuse every chain call in this window")
    ap.add_argument("--no-chain", action="store_true", help="no chain (statuses stay in the journal's outbox)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulated cars")
    ap.add_argument("--state", default=None, help="state folder (default: a fresh temporary folder)")
    ap.add_argument("--chargers", default=None, help="charger port: sim (default) or ocpp (default: $EV_CHARGERS)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    def fail(msg: str) -> int:
        sys.stderr.write(" ".join(str(msg).split()) + "\n")
        return 2

    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        return fail(f"--day: must be YYYY-MM-DD, got {args.day!r}")
    try:
        site = load_site(Path(args.site) if args.site else DEFAULT_SITE)
    except FieldError as exc:
        return fail(f"--site: {exc}")
    except OSError as exc:
        return fail(f"--site: cannot read {args.site!r} ({os_reason(exc)})")
    state = Path(args.state) if args.state else None
    if state is not None:
        try:
            state.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            return fail(f"--state: cannot use {args.state!r} as a folder ({os_reason(exc)})")
    chargers = (args.chargers or os.environ.get("EV_CHARGERS") or "sim").strip().lower()
    try:
        parse_outage(args.chain_outage, day, site_tz(site.timezone))
        figures = run_day(site, day, state=state, chain=not args.no_chain,
                          chargers=chargers, outage=args.chain_outage, seed=args.seed,
                          progress=lambda m: (sys.stderr.write(m + "\n"), sys.stderr.flush()))
    except HeadlessError as exc:
        return fail(str(exc))
    except FieldError as exc:
        return fail(str(exc))
    if not args.json:
        for k, v in figures.items():
            sys.stdout.write(f"{k}: {v}\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0
