"""Which key a fleet file takes at which level, and why it refuses the others where they stand.

Three levels set a target's settings: the target, its user, and ``defaults``; the nearer wins, then the
built-in default of ``worker.settings.SETTINGS``. Per-target settings may stand at any level (a user's
``endpoint`` serves all its targets); per-user settings (one pool of slots and one request rate over all of
a user's targets) at the user or in ``defaults``. What belongs to one level only (names, ``env_prefix``, the
targets, a target's ``plan`` or ``policy``) cannot be a default. Every other row of the settings table is a
per-run setting, given by flag, environment or ``--config``; the sign-in is the environment's alone.
"""

from __future__ import annotations

import difflib
from typing import Any, Final

from worker.errors import SettingsError
from worker.settings import SECRET_KEYS, SETTINGS, SettingSpec, parse_setting
from worker.yamlsource import quote

SPECS: Final = {spec.key: spec for spec in SETTINGS}

PER_TARGET: Final = ("service", "endpoint", "project_id", "provider_id", "task_timeout", "poll_first", "poll_min",
                     "poll_max", "lag_window", "max_deletions")
PER_USER: Final = ("concurrency", "max_rps")
SIGN_IN: Final = ("iam_endpoint", "username", "domain_name")  # from the user's prefixed variables
INPUTS: Final = ("plan", "policy")  # exactly one per target

DEFAULTS_KEYS: Final = (*PER_TARGET, *PER_USER)
USER_KEYS: Final = ("name", "env_prefix", "targets", *PER_TARGET, *PER_USER)
TARGET_KEYS: Final = ("name", *INPUTS, *PER_TARGET)
TOP_KEYS: Final = ("defaults", "users")

Level = dict[str, tuple[Any, str]]
"""One level's settings: key -> (value as its ``SettingSpec`` parses it, ``file:line`` where it stands)."""


def parse_value(key: str, text: str, where: str) -> Any:
    """A setting's value read by the settings table's own parser; ``where`` starts its error message."""
    return parse_setting(SPECS[key], text, where)


def refusal(key: str, allowed: tuple[str, ...], what: str) -> str:
    """Why ``key`` cannot stand in ``what`` ("target a-prod", "defaults"), and where it belongs instead."""
    if key in SECRET_KEYS:
        return f"{key} is a secret: set it in the environment (behind the user's env_prefix), never in a file"
    if key in SIGN_IN:
        return (f"{key} is part of a user's sign-in: set <env_prefix>{SPECS[key].env} in the environment "
                f"(e.g. ACCT_A_{SPECS[key].env})")
    if key in SPECS and key not in DEFAULTS_KEYS:
        return _per_run(SPECS[key])
    if key in PER_USER:
        return f"{key} is per user (one pool over all its targets): set it on the user or in defaults"
    if key in INPUTS:
        return f"{key} is per target: give plan: or policy: on each target (a shared one would run on every target)"
    if key == "env_prefix" and what == "defaults":
        return "env_prefix is per user: give it on each user (a shared one would make every user sign in as one)"
    nearest = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {nearest[0]}?" if nearest else ""
    return f"unknown key {quote(key)} (known: {', '.join(allowed)}){hint}"


def _per_run(spec: SettingSpec) -> str:
    flag = f"{spec.flag}, " if "fleet" in spec.commands else ""
    return (f"{spec.key} is a per-run setting, the same for every target: give {flag}{spec.env} or {spec.key}: in "
            "the --config file")


def check_allowed(key: str, allowed: tuple[str, ...], what: str, where: str) -> None:
    """Refuse ``key`` at ``where`` unless this level takes it."""
    if key not in allowed:
        raise SettingsError(f"{where}: {what}: {refusal(key, allowed, what)}")
