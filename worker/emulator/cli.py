"""``csbs-worker emulator`` / ``python -m worker.emulator``: serve seeded backups until SIGINT or SIGTERM.

``--service`` names the API face to serve (``worker.emulator.registry``; the first is the default). Each
face's own app answers ``POST /v3/auth/tokens`` too; ``--scenario`` is then a scenario of that face (its
``example`` file documents the keys), ``--fault`` names its routes, and the behaviour flags it does not
take are refused.

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

from worker.emulator.core.face import Face
from worker.emulator.core.scenario import AccessKey, IamUser, ScenarioError, read_scenario_file
from worker.emulator.core.server import serve
from worker.emulator.registry import DEFAULT, FACES

DEFAULT_PROJECT = "0123456789abcdef0123456789abcdef"
DEMO_TOKEN = "emulator-token"
DEMO_TOKEN_USER = "token-user"
DEMO_USER = IamUser(name="csbs-demo", password="emulator-password", domain="emulator-domain")
DEMO_KEY = AccessKey(ak="EMULATORAK0000000001", sk="EmulatorSecretKey000000000000000000000000", user="aksk-user")
# the behaviour flags (argparse dest; --no-progress stores False in progress_reported); each face maps those it
# takes to its scenario's fields (Face.flag_fields)
BEHAVIOUR_FLAGS = ("delete_duration", "tasks_per_user", "gone_mode", "deleted_linger", "busy_mode", "status_lag",
                   "fail_rate", "stuck_rate", "token_ttl", "progress_reported", "busy_first_deletes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (the command's own or a subcommand's)."""
    services = ", or ".join(f"{name} ({face.about})" for name, face in FACES.items())
    examples = "; ".join(f"--service {name}: {face.example}" for name, face in FACES.items())
    parser.add_argument("--service", choices=tuple(FACES), default=DEFAULT,
                        help=f"the API to serve: {services} (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--project", help=f"project id that holds the backups (default: {DEFAULT_PROJECT})")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds all randomness; also the number of backup records (CBR: backups) unless --count")
    parser.add_argument("--count", type=int, help="number of random backup records (default: --seed)")
    parser.add_argument("--scenario", metavar="FILE", help=f"YAML scenario (see {examples})")
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
    behaviour.add_argument("--no-progress", dest="progress_reported", action="store_false", default=None,
                           help="report no progress: extend_info.progress stays 0 until the backup is gone")
    behaviour.add_argument("--busy-first-deletes", type=int, metavar="N",
                           help="answer the first N DELETEs of each backup busy, starting nothing (default: 0)")
    behaviour.add_argument("--fault", action="append", default=[], metavar="ROUTE:KIND[:KEY=VALUE,...]",
                           help="inject a fault, e.g. delete:429:rate=0.2 or '*:slow:delay_s=0.5,times=3'")


def service_of(args: argparse.Namespace) -> str:
    """The face ``--service`` names (the default one for a namespace without the option)."""
    return str(getattr(args, "service", DEFAULT))


def build_scenario(args: argparse.Namespace) -> Any:
    """The scenario of the ``--service`` face the options describe (file, then flags, then demo credentials
    where none are set); a behaviour flag the face does not take is a ScenarioError."""
    service = service_of(args)
    face = FACES[service]
    data = read_scenario_file(args.scenario) if args.scenario else {}
    project = args.project or data.get("project_id") or DEFAULT_PROJECT
    base = face.scenario.from_mapping(data, source=args.scenario or "options", project_id=str(project))
    foreign = [dest for dest in BEHAVIOUR_FLAGS if dest not in face.flag_fields and getattr(args, dest) is not None]
    if foreign:
        flags = ", ".join("--" + dest.replace("_", "-") for dest in foreign)
        raise ScenarioError(f"{flags}: not a {face.title} setting; for --service {service} set the keys "
                            f"of its scenario ({face.example})")
    overrides: dict[str, Any] = {field: getattr(args, dest) for dest, field in face.flag_fields.items()
                                 if getattr(args, dest) is not None}
    if "delete_duration_s" in overrides:
        overrides["delete_duration_s"] = tuple(overrides["delete_duration_s"])
    tokens = {**base.tokens, **{token: DEMO_TOKEN_USER for token in args.token}}
    users = (*base.users, *_flag_user(args))
    keys = (*base.access_keys, *_flag_key(args))
    faults = (*base.faults, *(parse_fault(spec, face) for spec in args.fault))
    return dataclasses.replace(
        base, tokens=tokens or {DEMO_TOKEN: DEMO_TOKEN_USER}, users=users or (DEMO_USER,),
        access_keys=keys or (DEMO_KEY,), faults=faults, **overrides,
    )


def parse_fault(spec: str, face: Face) -> Any:
    """``ROUTE:KIND[:KEY=VALUE,...]`` -> the face's fault rule, e.g.
    ``delete:429-retry-after:retry_after_s=2,times=3``."""
    route, _, rest = spec.partition(":")
    kind, _, options = rest.partition(":")
    values: dict[str, Any] = {}
    for option in filter(None, options.split(",")):
        key, sep, value = option.partition("=")
        if not sep or key not in ("rate", "times", "after", "retry_after_s", "delay_s"):
            raise ScenarioError(f"--fault {spec!r}: option {option!r} is not rate|times|after|retry_after_s|delay_s=N")
        values[key] = int(value) if key in ("times", "after") else float(value)
    return face.fault_rule(route=route, kind=kind, **values)


def records_to_seed(args: argparse.Namespace) -> int:
    """How many random backup records (or backups) to serve: ``--count``, else ``--seed``."""
    return int(args.count if args.count is not None else args.seed)


def run(args: argparse.Namespace) -> int:
    """Serve the emulator of ``--service`` until SIGINT or SIGTERM; print its URL and the ways to sign in."""
    service = service_of(args)
    face = FACES[service]
    try:
        scenario = build_scenario(args)
        emulator, holds = face.start(scenario, args.seed, records_to_seed(args))
    except (ScenarioError, ValueError) as exc:
        print(f"{service} emulator: {exc}", file=sys.stderr)
        return 2
    text = functools.partial(banner, face, scenario, holds=holds)
    try:
        asyncio.run(_serve_until_signal(serve(emulator, args.host, args.port), text, service))
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


def banner(face: Face, scenario: Any, base_url: str, holds: str) -> str:
    """What to tell the operator: where it listens, what it holds and how to sign in (emulator fakes only)."""
    lines = [
        f"{face.title} emulator listening on {base_url}",
        f"  project:  {scenario.project_id} ({holds})",
        f"  endpoint: {face.endpoint}CSBS_ENDPOINT={base_url} CSBS_PROJECT_ID={scenario.project_id}",
        *_sign_in_lines(scenario, base_url),
    ]
    return "\n".join([*lines, "Stop with Ctrl+C (SIGINT) or SIGTERM."])


def _sign_in_lines(scenario: Any, base_url: str) -> list[str]:
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
