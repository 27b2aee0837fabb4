"""``csbs-worker emulator`` / ``python -m worker.emulator``: serve seeded backups until SIGINT or SIGTERM.

``--service csbs`` (the default) serves the CSBS emulator; ``--service cbr`` serves a ``CbrEmulator`` (its
own app, which answers ``POST /v3/auth/tokens`` too) with backups over the vaults ``default`` and
``POLICY_VAULT`` (a vault named after a migrated CSBS policy); ``--scenario`` is then a CBR scenario
(``config/scenario.cbr.example.yaml``), and ``--fault`` names CBR routes.

Precedence: a flag beats the ``--scenario`` file, which beats the defaults. Credentials add up (file and
flags); if none of a kind is configured, a demo one is made, so each way to sign in can be tried at once.
The credentials printed at start are the emulator's own fakes, meant to be copied into the worker's env.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import signal
import sys
from collections.abc import Callable
from typing import Any

from worker.emulator.app import Emulator, Record
from worker.emulator.cbr import CbrEmulator, CbrFaultRule, CbrScenario
from worker.emulator.cbr import serve as serve_cbr
from worker.emulator.scenario import AccessKey, FaultRule, IamUser, Scenario, ScenarioError, read_scenario_file
from worker.emulator.server import serve

DEFAULT_PROJECT = "0123456789abcdef0123456789abcdef"
DEMO_TOKEN = "emulator-token"
DEMO_TOKEN_USER = "token-user"
DEMO_USER = IamUser(name="csbs-demo", password="emulator-password", domain="emulator-domain")
DEMO_KEY = AccessKey(ak="EMULATORAK0000000001", sk="EmulatorSecretKey000000000000000000000000", user="aksk-user")
SERVICES = ("csbs", "cbr")
CBR_VAULTS = ("default", "daily-backup-policy")  # migrated manual backups, and a migrated CSBS policy's
POLICY_VAULT = CBR_VAULTS[1]

# flag dest -> scenario field, for the behaviour flags that override the file
_OVERRIDES = {
    "delete_duration": "delete_duration_s", "tasks_per_user": "tasks_per_user", "gone_mode": "gone_mode",
    "deleted_linger": "deleted_linger_s", "busy_mode": "busy_mode", "status_lag": "status_lag_s",
    "fail_rate": "fail_rate", "stuck_rate": "stuck_rate", "token_ttl": "token_ttl_s",
}
# the same for --service cbr (CbrScenario fields); the other flags have no CBR meaning and are refused
_CBR_OVERRIDES = {
    "delete_duration": "delete_duration_s", "tasks_per_user": "deletions_per_user", "status_lag": "status_lag_s",
    "fail_rate": "fail_rate", "token_ttl": "token_ttl_s",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (the command's own or a subcommand's)."""
    parser.add_argument("--service", choices=SERVICES, default="csbs",
                        help="the API to serve: csbs, or cbr (Cloud Backup and Recovery) (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--project", help=f"project id that holds the backups (default: {DEFAULT_PROJECT})")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds all randomness; also the number of backup records (CBR: backups) unless --count")
    parser.add_argument("--count", type=int, help="number of random backup records (default: --seed)")
    parser.add_argument("--scenario", metavar="FILE", help="YAML scenario (see config/scenario.example.yaml; "
                        "for --service cbr config/scenario.cbr.example.yaml)")
    group = parser.add_argument_group("credentials (added to the scenario's; a demo one of each if none)")
    group.add_argument("--token", action="append", default=[], help="accept this static X-Auth-Token")
    group.add_argument("--user", help="IAM user name for password sign-in (with --password, --domain)")
    group.add_argument("--password", help="that user's password")
    group.add_argument("--domain", help="that user's domain (account) name")
    group.add_argument("--ak", help="access key for SDK-HMAC-SHA256 signing (with --sk)")
    group.add_argument("--sk", help="secret key of --ak")
    behaviour = parser.add_argument_group("behaviour (override the scenario file)")
    behaviour.add_argument("--delete-duration", type=float, nargs=2, metavar=("MIN_S", "MAX_S"),
                           help="running time of one deletion task, drawn per task (default: 1 5)")
    behaviour.add_argument("--tasks-per-user", type=int, help="deletion tasks running at once per user (default: 5)")
    behaviour.add_argument("--gone-mode", choices=("404", "deleted"), help="what a finished deletion leaves")
    behaviour.add_argument("--deleted-linger", type=float, metavar="S", help="how long 'deleted' items linger")
    behaviour.add_argument("--busy-mode", choices=("400", "409"), help="answer to a DELETE of a busy backup")
    behaviour.add_argument("--status-lag", type=float, metavar="S", help="old status shown this long after DELETE")
    behaviour.add_argument("--fail-rate", type=float, help="probability a backup's deletion ends in error")
    behaviour.add_argument("--stuck-rate", type=float, help="probability a deletion task never ends")
    behaviour.add_argument("--token-ttl", type=float, metavar="S", help="lifetime of signed-in tokens")
    behaviour.add_argument("--fault", action="append", default=[], metavar="ROUTE:KIND[:KEY=VALUE,...]",
                           help="inject a fault, e.g. delete:429:rate=0.2 or '*:slow:delay_s=0.5,times=3'")


def build_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario the options describe (file, then flags, then demo credentials where none are set)."""
    data = read_scenario_file(args.scenario) if args.scenario else {}
    project = args.project or data.get("project_id") or DEFAULT_PROJECT
    base = Scenario.from_mapping(data, source=args.scenario or "options", project_id=str(project))
    overrides: dict[str, Any] = {field: getattr(args, dest) for dest, field in _OVERRIDES.items()
                                 if getattr(args, dest) is not None}
    if "delete_duration_s" in overrides:
        overrides["delete_duration_s"] = tuple(overrides["delete_duration_s"])
    tokens = {**base.tokens, **{token: DEMO_TOKEN_USER for token in args.token}}
    users = (*base.users, *_flag_user(args))
    keys = (*base.access_keys, *_flag_key(args))
    return dataclasses.replace(
        base, tokens=tokens or {DEMO_TOKEN: DEMO_TOKEN_USER}, users=users or (DEMO_USER,),
        access_keys=keys or (DEMO_KEY,), faults=(*base.faults, *(parse_fault(spec) for spec in args.fault)),
        **overrides,
    )


def build_cbr_scenario(args: argparse.Namespace) -> CbrScenario:
    """The CBR scenario the options describe: as ``build_scenario``, with the CBR fields and fault routes."""
    data = read_scenario_file(args.scenario) if args.scenario else {}
    project = args.project or data.get("project_id") or DEFAULT_PROJECT
    base = CbrScenario.from_mapping(data, source=args.scenario or "options", project_id=str(project))
    csbs_only = [dest for dest in _OVERRIDES if dest not in _CBR_OVERRIDES and getattr(args, dest) is not None]
    if csbs_only:
        flags = ", ".join("--" + dest.replace("_", "-") for dest in csbs_only)
        raise ScenarioError(f"{flags}: CSBS only; for --service cbr set the CBR scenario's keys "
                            "(config/scenario.cbr.example.yaml)")
    overrides: dict[str, Any] = {field: getattr(args, dest) for dest, field in _CBR_OVERRIDES.items()
                                 if getattr(args, dest) is not None}
    if "delete_duration_s" in overrides:
        overrides["delete_duration_s"] = tuple(overrides["delete_duration_s"])
    tokens = {**base.tokens, **{token: DEMO_TOKEN_USER for token in args.token}}
    users = (*base.users, *_flag_user(args))
    keys = (*base.access_keys, *_flag_key(args))
    faults = (*base.faults, *(parse_cbr_fault(spec) for spec in args.fault))
    return dataclasses.replace(
        base, tokens=tokens or {DEMO_TOKEN: DEMO_TOKEN_USER}, users=users or (DEMO_USER,),
        access_keys=keys or (DEMO_KEY,), faults=faults, **overrides,
    )


def parse_fault(spec: str) -> FaultRule:
    """``ROUTE:KIND[:KEY=VALUE,...]`` -> FaultRule, e.g. ``delete:429-retry-after:retry_after_s=2,times=3``."""
    route, kind, values = _fault_parts(spec)
    return FaultRule(route=route, kind=kind, **values)


def parse_cbr_fault(spec: str) -> CbrFaultRule:
    """The same form on the CBR routes, e.g. ``get_backup:500:rate=0.1`` (``CbrFaultRule``)."""
    route, kind, values = _fault_parts(spec)
    return CbrFaultRule(route=route, kind=kind, **values)


def _fault_parts(spec: str) -> tuple[str, str, dict[str, Any]]:
    route, _, rest = spec.partition(":")
    kind, _, options = rest.partition(":")
    values: dict[str, Any] = {}
    for option in filter(None, options.split(",")):
        key, sep, value = option.partition("=")
        if not sep or key not in ("rate", "times", "after", "retry_after_s", "delay_s"):
            raise ScenarioError(f"--fault {spec!r}: option {option!r} is not rate|times|after|retry_after_s|delay_s=N")
        values[key] = int(value) if key in ("times", "after") else float(value)
    return route, kind, values


def records_to_seed(args: argparse.Namespace) -> int:
    """How many random backup records to serve: ``--count``, else ``--seed``."""
    return int(args.count if args.count is not None else args.seed)


def run(args: argparse.Namespace) -> int:
    """Serve the emulator of ``--service`` until SIGINT or SIGTERM; print its URL and the ways to sign in."""
    service = getattr(args, "service", "csbs")
    try:
        if service == "cbr":
            cbr = CbrEmulator(build_cbr_scenario(args), seed=args.seed)
            backup_ids = cbr.seed_random(records_to_seed(args), vault_names=CBR_VAULTS)
            server: contextlib.AbstractAsyncContextManager[str] = serve_cbr(cbr, args.host, args.port)
            text = functools.partial(cbr_banner, cbr.scenario, backups=len(backup_ids))
        else:
            emulator = Emulator(build_scenario(args), seed=args.seed)
            records = emulator.seed_random(records_to_seed(args))
            server = serve(emulator, args.host, args.port)
            text = functools.partial(banner, emulator.scenario, records=records)
    except (ScenarioError, ValueError) as exc:
        print(f"{service} emulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve_until_signal(server, text, service))
    except OSError as exc:
        print(f"{service} emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve_until_signal(server: contextlib.AbstractAsyncContextManager[str], text: Callable[[str], str],
                              service: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with server as base_url:
        print(text(base_url), flush=True)
        await stop.wait()
    print(f"{service} emulator: stopped", flush=True)


def banner(scenario: Scenario, base_url: str, records: list[Record]) -> str:
    """What to tell the operator: where it listens and how to sign in (emulator fakes only)."""
    backups = sum(len(items) for _, items in records)
    lines = [
        f"CSBS emulator listening on {base_url}",
        f"  project:  {scenario.project_id} ({backups} backups in {len(records)} records)",
        f"  endpoint: CSBS_ENDPOINT={base_url} CSBS_PROJECT_ID={scenario.project_id}",
        *_sign_in_lines(scenario, base_url),
    ]
    return "\n".join([*lines, "Stop with Ctrl+C (SIGINT) or SIGTERM."])


def cbr_banner(scenario: CbrScenario, base_url: str, backups: int) -> str:
    """The same for ``--service cbr``: the endpoint line says ``CSBS_SERVICE=cbr``."""
    lines = [
        f"CBR emulator listening on {base_url}",
        f"  project:  {scenario.project_id} ({backups} backups, each with a disk backup, in the vaults "
        f"{', '.join(CBR_VAULTS)})",
        f"  endpoint: CSBS_SERVICE=cbr CSBS_ENDPOINT={base_url} CSBS_PROJECT_ID={scenario.project_id}",
        *_sign_in_lines(scenario, base_url),
    ]
    return "\n".join([*lines, "Stop with Ctrl+C (SIGINT) or SIGTERM."])


def _sign_in_lines(scenario: Scenario | CbrScenario, base_url: str) -> list[str]:
    lines = [f"  token:    CSBS_AUTH_TOKEN={token}  (header X-Auth-Token)" for token in scenario.tokens]
    lines += [f"  IAM user: CSBS_IAM_ENDPOINT={base_url} CSBS_USERNAME={user.name} CSBS_PASSWORD={user.password}"
              f" CSBS_DOMAIN_NAME={user.domain}" for user in scenario.users]
    lines += [f"  AK/SK:    HUAWEICLOUD_SDK_AK={key.ak} HUAWEICLOUD_SDK_SK={key.sk}"
              + (f" HUAWEICLOUD_SDK_SECURITY_TOKEN={key.security_token}" if key.security_token else "")
              for key in scenario.access_keys]
    return lines


def _flag_user(args: argparse.Namespace) -> tuple[IamUser, ...]:
    if not args.user:
        return ()
    if not (args.password and args.domain):
        raise ScenarioError("--user needs --password and --domain")
    return (IamUser(name=args.user, password=args.password, domain=args.domain),)


def _flag_key(args: argparse.Namespace) -> tuple[AccessKey, ...]:
    if bool(args.ak) != bool(args.sk):
        raise ScenarioError("--ak and --sk go together")
    return (AccessKey(ak=args.ak, sk=args.sk),) if args.ak else ()

