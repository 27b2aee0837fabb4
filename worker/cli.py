"""The composition root: command line -> settings, plan, client, scheduler; outcome -> exit code.

Nothing imports this module; it alone wires the embedded emulator (``--emulator``) to the worker.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import secrets
import sys
from collections.abc import AsyncIterator, Sequence

from worker import __version__
from worker.emulator import Emulator, Scenario, ScenarioError, serve
from worker.emulator import add_arguments as add_emulator_arguments
from worker.emulator import run as run_emulator
from worker.errors import UsageError
from worker.jobs import run_delete, run_plan
from worker.plan import Plan
from worker.settings import SETTINGS

DEMO_DELETE_DURATION_S = (2.0, 8.0)  # long enough to watch the queue work, short enough for a demo
DEMO_RANDOM_BACKUPS = 40  # what an empty plan (``--policy``) finds in the embedded emulator


@contextlib.asynccontextmanager
async def embedded_emulator(plan: Plan, project_id: str, scenario_path: str | None = None,
                            seed: int = 1) -> AsyncIterator[tuple[str, str]]:
    """Serve a CSBS emulator on loopback, seeded with the plan's backups; yields (endpoint, token)."""
    token = secrets.token_urlsafe(24)
    tokens = {token: "demo-user"}
    try:
        scenario = (Scenario.from_yaml(scenario_path, project_id=project_id, tokens=tokens) if scenario_path
                    else Scenario(project_id, tokens=tokens, delete_duration_s=DEMO_DELETE_DURATION_S))
    except ScenarioError as error:
        raise UsageError(str(error)) from None
    emulator = Emulator(scenario, seed=seed)
    # The plan is deduplicated: a whole record never comes with items of its own.
    records: dict[str, list[str] | None] = {}
    for task in plan:
        items = records.setdefault(task.checkpoint_id, None if task.item_id is None else [])
        if items is not None and task.item_id is not None:
            items.append(task.item_id)
    if records:
        emulator.seed_plan(records.items())
    else:
        emulator.seed_random(DEMO_RANDOM_BACKUPS)
    async with serve(emulator, host="127.0.0.1", port=0) as base_url:
        yield base_url, token


def _delete(args: argparse.Namespace) -> int:
    embedded = functools.partial(embedded_emulator, scenario_path=args.emulator_scenario)
    return run_delete(args, embedded)


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per row of the settings table; None means "not given" so lower layers may decide."""
    group = parser.add_argument_group("settings (flag > CSBS_* environment > config file > default)")
    group.add_argument("--config", metavar="FILE", help="YAML config file (env CSBS_CONFIG)")
    for spec in SETTINGS:
        default = "none" if spec.default is None else spec.default
        group.add_argument(spec.flag, dest=spec.key, metavar=spec.metavar,
                           help=f"{spec.help} (env {spec.env}; default {default})")


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
    _add_settings(parser)
    parser.set_defaults(handler=_delete)


def _add_plan(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "plan", help="apply a retention policy to the project's backups and print the plan",
        description="List the project's backups (every page), apply the retention policy and write a plan "
                    "to stdout, ready for `csbs-worker delete -`.")
    parser.add_argument("--policy", metavar="FILE", required=True, help="the retention policy (YAML)")
    parser.add_argument("--explain", metavar="FILE", help="write every keep/delete decision as JSON")
    _add_settings(parser)
    parser.set_defaults(handler=run_plan)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csbs-worker", description="Delete CSBS backups in bulk, safely and fast.")
    parser.add_argument("--version", action="version", version=f"csbs-worker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_delete(commands)
    _add_plan(commands)
    emulator = commands.add_parser("emulator", help="serve the CSBS emulator (tests, benchmarks, trials)")
    add_emulator_arguments(emulator)
    emulator.set_defaults(handler=run_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code of design.md."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
