"""The zero-setup demos of ``--emulator``: for ``delete``, an emulator of the run's service on loopback, seeded
with the plan's backups (or with random ones when the plan is empty: ``--policy``); for ``fleet``, one
emulator per service and endpoint of the fleet, all on one per-user task board (``embedded_fleet``).

Part of the composition root: only ``cli.py`` imports it, and only when ``--emulator`` is given, so a
production start never loads the emulator.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from worker.emulator import ScenarioError, serve
from worker.emulator.fleet import FleetCloud, serve_fleet, sites_of
from worker.emulator.registry import FACES
from worker.errors import UsageError
from worker.plan import Plan

DEMO_DELETE_DURATION_S = (2.0, 8.0)  # long enough to watch the queue work, short enough for a demo
DEMO_RANDOM_BACKUPS = 40  # what an empty plan (``--policy``) finds in the embedded emulator

FleetTarget = tuple[str, str, str, str, Plan | Sequence[tuple[str, str | None]] | None]
"""A fleet target as the demo seeds it: (user, service, endpoint, project id, its plan, or the plan's tasks as
(container id, backup id or None); None for a policy target, which finds random backups)."""


@contextlib.asynccontextmanager
async def embedded_emulator(plan: Plan, project_id: str, service: str, scenario_path: str | None = None,
                            seed: int = 1) -> AsyncIterator[tuple[str, str]]:
    """An emulator of ``service`` on loopback, seeded with the plan's backups; yields (endpoint, token)."""
    face = FACES[service]
    token = secrets.token_urlsafe(24)
    tasks = _pairs(plan)
    emulator, _ = face.start(_scenario(face.scenario, scenario_path, project_id, token), seed,
                             0 if tasks else DEMO_RANDOM_BACKUPS)
    face.seed_tasks(emulator, tasks)
    async with serve(emulator, host="127.0.0.1", port=0) as base_url:
        yield base_url, token


def _scenario(kind: Any, path: str | None, project_id: str, token: str) -> Any:
    """The demo's scenario (or the one in ``path``), accepting only this run's fresh token."""
    tokens = {token: "demo-user"}
    try:
        if path:
            return kind.from_yaml(path, project_id=project_id, tokens=tokens)
        return kind(project_id, tokens=tokens, delete_duration_s=DEMO_DELETE_DURATION_S)
    except ScenarioError as error:
        raise UsageError(str(error)) from None


@contextlib.asynccontextmanager
async def embedded_fleet(targets: Iterable[FleetTarget], seed: int = 1) -> AsyncIterator[FleetCloud]:
    """One emulator per distinct (service, endpoint) of the targets on loopback, all on one board (five
    deletions at once per user over the whole fleet), each project seeded with its plans' backups, or
    with ``DEMO_RANDOM_BACKUPS`` random ones for policy targets; yields the fleet:
    ``.url(service, endpoint)`` and ``.token(user)`` (fresh, accepted at every site)."""
    listed = list(targets)
    sites = sites_of((service, endpoint, project) for _, service, endpoint, project, _ in listed)
    users = dict.fromkeys(user for user, *_ in listed)
    async with serve_fleet(sites, users, seed=seed, scenario={"delete_duration_s": DEMO_DELETE_DURATION_S}) as cloud:
        plans: dict[tuple[str, str, str], dict[tuple[str, str | None], None]] = {}
        policies: set[tuple[str, str, str]] = set()
        for _, service, endpoint, project, tasks in listed:
            where = (service, endpoint, project)
            if tasks is None:
                policies.add(where)
            else:  # two targets may share a project: each backup is seeded once
                plans.setdefault(where, {}).update(dict.fromkeys(_pairs(tasks)))
        try:
            for where in sorted(policies):
                cloud.seed_random(*where, DEMO_RANDOM_BACKUPS)
            for where, planned in plans.items():
                cloud.seed_tasks(*where, list(planned))
        except ValueError as error:  # e.g. one backup id planned in two records of a project
            raise UsageError(f"the embedded fleet cannot hold these plans: {error}") from None
        yield cloud


def _pairs(tasks: Plan | Sequence[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """A plan's tasks as the emulator seeds them: (container id, backup id or None for a whole record)."""
    if isinstance(tasks, Plan):
        return [(task.container_id, task.backup_id) for task in tasks]
    return [(container, backup) for container, backup in tasks]
