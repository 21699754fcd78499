"""Command line of the engine: ``python -m engine plan|quote|replay ...``.

* ``plan SCENARIO.json``  prints the plan JSON (spec "Plan") on stdout;
* ``quote SCENARIO.json`` prints the quote JSON for the scenario's ``request``;
* ``replay [options]``    is dispatched to :func:`engine.replay.cli.main`;
* ``run --headless ...``  is dispatched to :func:`engine.runtime.cli.main` (a day of the live site).

Exit status 0 on success; on invalid input exit status 2 and exactly one line on
stderr that names the offending field (``sessions[3].departure_step: must be > arrival_step``);
exit status 1 and one ``solver: ...`` line should HiGHS ever fail. Sizes are capped before
anything is allocated (``engine.optimize.scenario.MAX_*``: file, steps, cabinets, charge points,
sessions), so no input ends in a traceback. The formats are in ``docs/engine.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn, Sequence

from engine.optimize.highs import LpError
from engine.optimize.planner import plan
from engine.optimize.quote import quote
from engine.optimize.scenario import ScenarioError
from engine.optimize.scenario_json import load_scenario
from engine.replay.cli import main as replay_main
from engine.runtime.cli import main as run_main

__all__ = ["main", "build_parser"]

EXIT_INPUT = 2
EXIT_SOLVER = 1


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr (exit 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(EXIT_INPUT)


MAX_INDENT = 16


def _indent(text: str) -> int:
    """``--indent``: an integer in [0, 16] (a huge one would build gigabytes of blanks)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_INDENT}], got {text!r}") from None
    if not 0 <= n <= MAX_INDENT:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_INDENT}], got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its ``plan``, ``quote`` and ``replay`` subcommands."""
    ap = _OneLineParser(
        prog="python -m engine",
        description="EV smart-charging engine: plan a scenario, quote a request, replay real sessions.",
    )
    sub = ap.add_subparsers(dest="command", metavar="{plan,quote,replay,run}", parser_class=_OneLineParser)
    p = sub.add_parser("plan", help="plan a scenario JSON file; prints the plan JSON")
    p.add_argument("scenario", metavar="SCENARIO.json", help="scenario file (format: docs/engine.md)")
    p.add_argument("--indent", type=_indent, default=None, help="pretty-print the JSON with this indent")
    q = sub.add_parser("quote", help="quote the scenario's 'request'; prints the quote JSON")
    q.add_argument("scenario", metavar="SCENARIO.json", help="scenario file with a 'request' object")
    q.add_argument("--indent", type=_indent, default=None, help="pretty-print the JSON with this indent")
    sub.add_parser("run", help="run the live site headless over a real day (python -m engine run --help)",
                   add_help=False)
    sub.add_parser(
        "replay",
        help="replay real sessions through a strategy (python -m engine replay --help)",
        add_help=False,
    )
    return ap


def _fail(message: str) -> int:
    sys.stderr.write(" ".join(str(message).split()) + "\n")
    return EXIT_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 2 invalid input.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "replay":
        return int(replay_main(args_list[1:]) or 0)
    if args_list and args_list[0] == "run":
        return int(run_main(args_list[1:]) or 0)
    ap = build_parser()
    args = ap.parse_args(args_list)
    if args.command is None:
        return _fail("command: required (plan, quote or replay; see python -m engine --help)")
    try:
        scenario = load_scenario(args.scenario)
        if args.command == "plan":
            out = plan(scenario).to_dict()
        else:
            if scenario.request is None:
                raise ScenarioError("request", "required for a quote (add a 'request' object)")
            out = quote(scenario).to_dict()
    except ScenarioError as exc:
        return _fail(str(exc))
    except MemoryError:  # the size limits of engine.optimize.scenario should make this unreachable
        return _fail("scenario: too large for this machine's memory (fewer sessions or a shorter horizon)")
    except LpError as exc:  # never expected: every model is feasible
        sys.stderr.write(f"solver: {' '.join(str(exc).split())}\n")
        return EXIT_SOLVER
    sys.stdout.write(json.dumps(out, indent=args.indent, allow_nan=False) + "\n")
    sys.stdout.flush()
    return 0
