"""``load_fleet``: the fleet file, and everything it points at for the users a run serves, checked whole.

Order, so that the cheap faults are found first and nothing is listed or deleted before all is checked:
the file itself, for every user (keys, values, names, one target per project), so that every shard of an
Indexed Job agrees on whether the file is valid; then the users this run serves (``--shard``/``--user``, or
all): their sign-ins, then their targets' plans and policies.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import replace

from worker.errors import SettingsError, UsageError
from worker.fleet.credentials import EMULATED, SignIn, sign_in
from worker.fleet.file import FleetFile, TargetEntry, UserEntry, read_fleet_file
from worker.fleet.inputs import read_input
from worker.fleet.model import Fleet, FleetTarget, FleetUser
from worker.fleet.resolve import (
    check_one_target_per_project,
    concurrency_warnings,
    ignored_run_values,
    target_settings,
    target_values,
)
from worker.settings import Settings
from worker.yamlsource import quote

_SHOWN_USERS = 10  # user names listed when --user names none of them


def load_fleet(path: str, base: Settings, env: Mapping[str, str], *, shard: int | None = None,
               user: str | None = None, emulator: bool = False) -> Fleet:
    """Read and check the fleet file at ``path`` and the inputs and sign-ins of the users this run serves.

    Args:
        path: the fleet file; the plans and policies it names are relative to its folder.
        base: the run's settings (flags, environment, ``--config``): each target keeps its per-run values
            and takes every per-target and per-user one from the fleet file's levels or the built-in default.
        env: where each user's sign-in variables are read, behind its ``env_prefix``.
        shard: serve only the user at this 0-based index of ``users``.
        user: serve only the user of this name (not with ``shard``).
        emulator: the run talks to the embedded emulator, which hands out its own token: no sign-in is read.

    Raises:
        UsageError (SettingsError, PlanError, PolicyError): the first fault, naming file, line and target.
    """
    fleet = read_fleet_file(path)
    settings = {target.name: _settings(fleet, base, entry, target) for entry in fleet.users for target in entry.targets}
    check_one_target_per_project(fleet, settings)
    served = _select(fleet, shard, user)
    sign_ins = {entry.name: EMULATED if emulator else sign_in(base, entry.env_prefix, env, _who(fleet, entry))
                for entry in served}
    warnings = ignored_run_values(base)
    users = tuple(_user(fleet, entry, settings, sign_ins[entry.name], warnings.append) for entry in served)
    for entry, loaded in zip(served, users, strict=True):
        warnings += concurrency_warnings(base, loaded.concurrency, _who(fleet, entry))
    return Fleet(path, users, len(fleet.users), tuple(warnings))


def _settings(fleet: FleetFile, base: Settings, entry: UserEntry, target: TargetEntry) -> Settings:
    where = f"{fleet.at(target.line)}: target {target.name}"
    return target_settings(base, target_values(fleet, entry, target), where)


def _who(fleet: FleetFile, entry: UserEntry) -> str:
    return f"{fleet.at(entry.line)}: user {entry.name}"


def _select(fleet: FleetFile, shard: int | None, user: str | None) -> tuple[UserEntry, ...]:
    """The users this run serves: the one of ``--shard`` or ``--user``, or every one."""
    names = [entry.name for entry in fleet.users]
    if shard is not None and user is not None:
        raise UsageError("give --shard or --user, not both")
    if shard is not None:
        if not 0 <= shard < len(names):
            raise SettingsError(f"--shard {shard}: {fleet.path} lists {len(names)} users, so the shards are 0 "
                                f"to {len(names) - 1}")
        return (fleet.users[shard],)
    if user is not None:
        if user not in names:
            nearest = difflib.get_close_matches(user, names, n=1)
            hint = f"; did you mean {nearest[0]}?" if nearest else ""
            shown = ", ".join(names[:_SHOWN_USERS]) + (", ..." if len(names) > _SHOWN_USERS else "")
            raise SettingsError(f"--user {quote(user)}: {fleet.path} has no such user (users: {shown}){hint}")
        return (fleet.users[names.index(user)],)
    return fleet.users


def _user(fleet: FleetFile, entry: UserEntry, settings: Mapping[str, Settings], login: SignIn,
          warn: Callable[[str], None]) -> FleetUser:
    targets = tuple(_target(fleet, entry, target, replace(settings[target.name], **login.fields()), warn)
                    for target in entry.targets)
    first = targets[0].settings  # per-user values: the same in every target of the user
    return FleetUser(entry.name, entry.index, first.concurrency, first.max_rps, targets)


def _target(fleet: FleetFile, entry: UserEntry, target: TargetEntry, settings: Settings,
            warn: Callable[[str], None]) -> FleetTarget:
    given = read_input(fleet, target, settings, warn)
    path = target.input.path
    return FleetTarget(target.name, entry.name, fleet.at(target.line), settings, given.plan, given.policy,
                       plan_path=path if given.plan is not None else None,
                       policy_path=path if given.policy is not None else None)
