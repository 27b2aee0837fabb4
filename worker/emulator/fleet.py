"""A fleet of emulators in one process: one per (service, endpoint) of a fleet, all on one task board.

The cloud runs at most five deletions at once per IAM user, over all its projects, regions and both
services; the rest wait in the provider's queue. ``serve_fleet`` plays that: every site (a distinct
service and endpoint of a fleet file) is an emulator of its face on its own loopback port, serving the
site's projects, and all of them queue on one ``TaskBoard`` and read one clock. A user is the same user
at every site: the fleet's token of that user is accepted everywhere and queues under its name.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.emulator.core.face import PlanTasks
from worker.emulator.core.server import serve
from worker.emulator.core.tasks import TaskBoard
from worker.emulator.core.timebase import Clock
from worker.emulator.registry import FACES

TASKS_PER_USER = 5  # the cloud's limit of deletions running at once per IAM user


@dataclass(frozen=True)
class FleetSite:
    """One distinct (service, endpoint) of a fleet.

    Args:
        service: the face, ``csbs`` or ``cbr``.
        endpoint: the endpoint as the fleet names it (only a key here: the site listens on loopback).
        projects: the projects it serves, each with backups of its own.
        refused: further projects it knows where every call answers 403 (no permission there).
    """

    service: str
    endpoint: str
    projects: tuple[str, ...]
    refused: tuple[str, ...] = ()


def sites_of(targets: Iterable[tuple[str, str, str]]) -> list[FleetSite]:
    """The sites that serve these (service, endpoint, project) targets, in the order they first appear."""
    projects: dict[tuple[str, str], list[str]] = {}
    for service, endpoint, project in targets:
        served = projects.setdefault((service, endpoint), [])
        if project not in served:
            served.append(project)
    return [FleetSite(service, endpoint, tuple(served)) for (service, endpoint), served in projects.items()]


class FleetCloud:
    """The started sites of a fleet and their shared board (what ``serve_fleet`` yields).

    Args:
        board: the task board every site queues on.
        sites: (service, endpoint) -> (the emulator, its base URL).
        tokens: user -> the fleet's token of that user.
    """

    def __init__(self, board: TaskBoard, sites: Mapping[tuple[str, str], tuple[Any, str]],
                 tokens: Mapping[str, str]) -> None:
        self.board = board
        self._sites: dict[tuple[str, str], tuple[Any, str]] = dict(sites)
        self._tokens = dict(tokens)

    def url(self, service: str, endpoint: str) -> str:
        """The loopback base URL serving that site, e.g. ``http://127.0.0.1:41234``."""
        return self._site(service, endpoint)[1]

    def token(self, user: str) -> str:
        """The token of ``user``, made fresh when the fleet started; every site accepts it (X-Auth-Token)."""
        try:
            return self._tokens[user]
        except KeyError:
            raise KeyError(f"user {user!r} is not one of the fleet's users") from None

    def emulator(self, service: str, endpoint: str) -> Any:
        """The site's emulator (``csbs.Emulator`` or ``cbr.CbrEmulator``): its stats, its seeding."""
        return self._site(service, endpoint)[0]

    def outstanding(self, user: str) -> int:
        """Deletions of ``user`` waiting or running now, over every site."""
        site = next(iter(self._sites.values()), None)
        if site is None:
            return self.board.outstanding(user)
        return int(site[0].stats.outstanding(user))  # any site's stats replay the whole board up to now

    def outstanding_high_water(self, user: str) -> int:
        """The most deletions of ``user`` ever waiting and running at once, over every site and project."""
        return self.board.max_outstanding.get(user, 0)

    def seed_tasks(self, service: str, endpoint: str, project: str, tasks: PlanTasks) -> None:
        """A plan's backups, as (container id, backup id or None), in one project of a site."""
        FACES[service].seed_tasks(self.emulator(service, endpoint), tasks, project)

    def seed_random(self, service: str, endpoint: str, project: str, n: int) -> str:
        """``n`` random backups (CSBS: records) in one project of a site; returns what it added."""
        return FACES[service].seed_random(self.emulator(service, endpoint), n, project)

    def _site(self, service: str, endpoint: str) -> tuple[Any, str]:
        try:
            return self._sites[(service, endpoint)]
        except KeyError:
            raise KeyError(f"no {service} site {endpoint!r} in this fleet") from None


@contextlib.asynccontextmanager
async def serve_fleet(sites: Sequence[FleetSite], users: Iterable[str], *, seed: int = 1,
                      tasks_per_user: int = TASKS_PER_USER, clock: Clock = time.monotonic,
                      scenario: Mapping[str, Any] | None = None,
                      by_service: Mapping[str, Mapping[str, Any]] | None = None) -> AsyncIterator[FleetCloud]:
    """Serve every site on 127.0.0.1 (a free port each) for as long as the block runs.

    Args:
        sites: the fleet's sites; each (service, endpoint) at most once, each with a project.
        users: the IAM users; each gets one fresh token, accepted at every site.
        seed: seeds the sites' randomness (the n-th site draws from ``seed + n``).
        tasks_per_user: deletions that run at once per user over the whole fleet.
        clock: the one clock every site reads (inject a fake one to step time in tests).
        scenario: scenario fields for every site (e.g. ``delete_duration_s``); both faces must have them.
        by_service: scenario fields for the sites of one face, by service name (e.g. ``{"csbs":
            {"gone_mode": "deleted"}}``).
    """
    board = TaskBoard(tasks_per_user)
    tokens = {user: secrets.token_urlsafe(24) for user in users}
    users_by_token = {token: user for user, token in tokens.items()}
    started: dict[tuple[str, str], tuple[Any, str]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for n, site in enumerate(sites):
            if (site.service, site.endpoint) in started:
                raise ValueError(f"{site.service} site {site.endpoint!r} is given twice")
            face = FACES[site.service]
            fields = {**(scenario or {}), **(by_service or {}).get(site.service, {}), "tokens": users_by_token}
            emulator = face.emulator(_site_scenario(face.scenario, site, fields), seed=seed + n, clock=clock,
                                     board=board)
            started[(site.service, site.endpoint)] = (emulator, await stack.enter_async_context(serve(emulator)))
        yield FleetCloud(board, started, tokens)


def _site_scenario(kind: Any, site: FleetSite, fields: Mapping[str, Any]) -> Any:
    """The scenario of one site: its first project holds backups, so do the others, the refused ones 403."""
    known = (*site.projects, *site.refused)
    if not known:
        raise ValueError(f"{site.service} site {site.endpoint!r} has no project")
    return kind(project_id=known[0], projects=frozenset(site.projects[1:]),
                forbidden_projects=frozenset(site.refused), **fields)
