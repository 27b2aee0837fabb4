"""The composition root: argv -> a typed request -> a run; the run's exit code -> the process.

``main`` installs the stop handlers first thing (a SIGTERM in the first instant still ends with a report and
exit 4), parses argv, and hands a ``DeleteRequest``, ``PlanRequest`` or ``FleetRequest`` to its run (``show``
reads a plan and prints its summary). Nothing imports this module. It alone wires the embedded emulator,
imported only for ``--emulator`` and ``emulator``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from worker import __version__
from worker.stopping import StopRequests

Handler = Callable[[argparse.Namespace, StopRequests], int]


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """Every setting as given on the command line; None where not given (and for options a command lacks)."""
    from worker.settings import SETTINGS  # imported once the signals are caught: it costs 50 ms

    flags = {spec.key: getattr(args, spec.key, None) for spec in SETTINGS}
    flags["config"] = getattr(args, "config", None)
    return flags


def _delete(args: argparse.Namespace, stops: StopRequests) -> int:
    from worker.run import DeleteRequest, DeleteRun

    request = DeleteRequest(flags=_flags(args), plans=tuple(args.plans), plan_format=args.format,
                            policy=args.policy, explain=args.explain, dry_run=args.dry_run, emulator=args.emulator,
                            emulator_scenario=args.emulator_scenario)
    embedded = None
    if args.emulator:
        from worker.demo import embedded_emulator

        embedded = functools.partial(embedded_emulator, scenario_path=args.emulator_scenario)
    return DeleteRun(request, stops, embedded).execute()


def _plan(args: argparse.Namespace, stops: StopRequests) -> int:
    from worker.run import PlanRequest, PlanRun

    request = PlanRequest(flags=_flags(args), policy=args.policy, explain=args.explain, approvable=args.approvable,
                          valid_for=args.valid_for)
    return PlanRun(request, stops).execute()


def _show(args: argparse.Namespace, stops: StopRequests) -> int:
    from worker.run.show import show_plan

    return show_plan(args.plan, every=args.all)


def _fleet(args: argparse.Namespace, stops: StopRequests) -> int:
    from worker.run import FleetRequest, FleetRun

    request = FleetRequest(flags=_flags(args), path=args.fleet_file, shard=args.shard, user=args.user,
                           dry_run=args.dry_run, emulator=args.emulator)
    embedded = None
    if args.emulator:
        from worker.demo import embedded_fleet

        embedded = embedded_fleet
    return FleetRun(request, stops, embedded).execute()


def _emulator(args: argparse.Namespace, stops: StopRequests) -> int:
    from worker.emulator import run as run_emulator

    stops.restore()  # the emulator's own loop handles Ctrl-C
    code: int = run_emulator(args)
    return code


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """One flag per row of the settings table that ``command`` uses (argparse refuses the others); None
    means "not given" so lower layers may decide."""
    from worker.settings import SETTINGS

    group = parser.add_argument_group("settings (flag > CSBS_* environment > config file > default)")
    group.add_argument("--config", metavar="FILE", help="YAML config file (env CSBS_CONFIG)")
    for spec in SETTINGS:
        if command not in spec.commands:
            continue
        shape: dict[str, Any] = {"choices": spec.choices} if spec.choices else {"metavar": spec.metavar}
        group.add_argument(spec.flag, dest=spec.key, **shape,
                           help=f"{spec.help} (env {spec.env}; default {spec.shown_default})")


def _add_delete(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "delete", help="delete the backups a plan names and follow every task to its end",
        description="Delete the backups a plan names (YAML, plain text or JSON Lines; - or none = stdin), "
                    "at most --concurrency deletion tasks outstanding, and follow each to its end.")
    parser.add_argument("plans", nargs="*", metavar="PLAN", help="plan file(s); - or none reads stdin")
    parser.add_argument("--format", default="auto", choices=("auto", "yaml", "text", "jsonl"),
                        help="plan format (default: detected from the content)")
    parser.add_argument("--policy", metavar="FILE", help="plan from this retention policy instead of PLAN")
    parser.add_argument("--explain", metavar="FILE", help="with --policy: write every keep/delete decision as JSON")
    parser.add_argument("--dry-run", action="store_true", help="read only: show what would be deleted")
    parser.add_argument("--emulator", action="store_true",
                        help="run against an embedded CSBS emulator seeded with the plan's backups")
    parser.add_argument("--emulator-scenario", metavar="FILE", help="with --emulator: a scenario file")
    _add_settings(parser, "delete")
    parser.set_defaults(handler=_delete)


def _add_plan(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "plan", help="apply a retention policy to the project's backups and print the plan",
        description="List the project's backups (every page), apply the retention policy and write a plan "
                    "to stdout, ready for `csbs-worker delete -`.")
    parser.add_argument("--policy", metavar="FILE", required=True, help="the retention policy (YAML)")
    parser.add_argument("--explain", metavar="FILE", help="write every keep/delete decision as JSON")
    parser.add_argument("--approvable", action="store_true",
                        help="write an approvable plan: endpoint, validity, what identified each backup, a digest")
    parser.add_argument("--valid-for", metavar="TIME",
                        help="with --approvable: how long the plan may be run, e.g. 24h, 90m, 7d (default 24h)")
    _add_settings(parser, "plan")
    parser.set_defaults(handler=_plan)


def _add_fleet(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "fleet", help="run many targets (projects, regions, services) grouped by IAM user, one pool each",
        description="Delete what a fleet file's targets plan (each a project of one service, with a plan or a "
                    "retention policy), one pool of slots per IAM user over all its targets, and write one "
                    "report. The file's targets and users are checked whole before anything is sent.")
    parser.add_argument("fleet_file", metavar="FLEET_FILE", help="the fleet file (YAML; see docs/fleet.md)")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--shard", type=int, metavar="N",
                        help="run only the user at index N of users (0-based: $JOB_COMPLETION_INDEX)")
    chosen.add_argument("--user", metavar="NAME", help="run only the user of this name")
    parser.add_argument("--dry-run", action="store_true", help="plan every target and report; delete nothing")
    parser.add_argument("--emulator", action="store_true",
                        help="run against embedded emulators, one per service and endpoint, seeded for the targets")
    _add_settings(parser, "fleet")
    parser.set_defaults(handler=_fleet)


def _add_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "show", help="summarise an approvable plan for its reviewer (nothing is sent)",
        description="Read an approvable plan as `delete` would and print, on one screen, its digest, validity, "
                    "and per resource what it keeps and deletes.")
    parser.add_argument("plan", metavar="PLAN", help="an approvable plan (csbs-worker plan --approvable)")
    parser.add_argument("--all", action="store_true", help="list every resource, not only the first 30")
    parser.set_defaults(handler=_show)


def build_parser(with_emulator: bool = True) -> argparse.ArgumentParser:
    """The whole command line; the emulator's options only when ``with_emulator`` (importing it costs)."""
    parser = argparse.ArgumentParser(prog="csbs-worker", description="Delete CSBS backups in bulk, safely and fast.")
    parser.add_argument("--version", action="version", version=f"csbs-worker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_delete(commands)
    _add_plan(commands)
    _add_fleet(commands)
    _add_show(commands)
    emulator = commands.add_parser("emulator", help="serve the CSBS emulator (tests, benchmarks, trials)")
    if with_emulator:
        from worker.emulator import add_arguments as add_emulator_arguments

        add_emulator_arguments(emulator)
    emulator.set_defaults(handler=_emulator)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand argv names (the first word that is not an option), before parsing."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code of docs/design.md, "Exit codes"."""
    stops = StopRequests()
    stops.install_early()
    try:
        words = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(with_emulator=_command_of(words) == "emulator").parse_args(words)
        handler: Handler = args.handler
        return handler(args, stops)
    finally:
        stops.restore()


if __name__ == "__main__":
    sys.exit(main())
