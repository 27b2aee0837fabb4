"""Each target's settings from its levels: target > user > defaults > the settings table's default.

The run's own values (flags, environment, ``--config``) are never a level here: a ``CSBS_ENDPOINT`` left in
the environment must not send every target to one endpoint. Where the run sets a per-target or per-user
value anyway, the fleet says it ignores it (``ignored_run_values``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from worker.errors import SettingsError
from worker.fleet.file import FleetFile, TargetEntry, UserEntry
from worker.fleet.levels import PER_TARGET, PER_USER, SPECS
from worker.settings import Settings, check_poll_bounds, settings_warnings

REQUIRED = ("endpoint", "project_id")  # no default: every target gets them from one of its levels


def target_values(fleet: FleetFile, user: UserEntry, target: TargetEntry) -> dict[str, Any]:
    """The per-target and per-user values of one target, by Settings attribute, with their levels applied."""
    values: dict[str, Any] = {}
    for key in (*PER_TARGET, *PER_USER):
        spec = SPECS[key]
        given = next((level[key][0] for level in (target.values, user.values, fleet.defaults) if key in level),
                     spec.default)
        if given is None and key in REQUIRED:
            raise SettingsError(f"{fleet.at(target.line)}: target {target.name}: no {key}: set {key}: on the "
                                "target, on its user or in defaults (it has no default)")
        values[spec.attribute] = given
    return values


def target_settings(base: Settings, values: dict[str, Any], where: str) -> Settings:
    """The run's settings with one target's values in place of the run's own; ``where`` names the target."""
    settings = replace(base, **values)
    try:
        check_poll_bounds(settings)
    except SettingsError as error:
        raise SettingsError(f"{where}: {error}") from None
    return settings


def check_one_target_per_project(fleet: FleetFile, settings: Mapping[str, Settings]) -> None:
    """Refuse two targets on one project of one service: their runs would race for the same backups and
    share its provider's slots unknowingly. ``settings`` holds every target's by name."""
    first: dict[tuple[str, str, str], TargetEntry] = {}
    for target in (target for user in fleet.users for target in user.targets):
        chosen = settings[target.name]
        assert chosen.endpoint is not None and chosen.project_id is not None  # target_values saw to it
        key = (chosen.service, chosen.endpoint.lower(), chosen.project_id.lower())
        if key in first:
            raise SettingsError(
                f"{fleet.at(target.line)}: target {target.name}: project {chosen.project_id} at {chosen.endpoint} "
                f"({chosen.service}) is target {first[key].name}'s already (line {first[key].line}); keep one "
                "target per project and service")
        first[key] = target


def ignored_run_values(base: Settings) -> list[str]:
    """Warnings for the per-target and per-user values the run was given: a fleet takes them from its file."""
    return [f"{key} is set for the run ({SPECS[key].env}, a flag or --config) but a fleet ignores it: set it in "
            "the fleet file (on a target, a user or in defaults)"
            for key in (*PER_TARGET, *PER_USER) if getattr(base, SPECS[key].attribute) != SPECS[key].default]


def concurrency_warnings(base: Settings, concurrency: int, who: str) -> list[str]:
    """The delete run's warning about a concurrency above the provider's, said of one user (``who``)."""
    said = settings_warnings(replace(base, concurrency=concurrency), env={}, command="delete")
    return [f"{who}: {warning}" for warning in said]
