"""The emulator: one scenario, its backups and tasks, its credentials and faults, as an aiohttp app.

Every request passes one middleware, in this order: count it; answer the gateway's 404 if the scenario
plays a wrong endpoint (``gateway_404``); apply a fault decided before auth (throttle, 5xx, gateway 404,
drop, delay); check the caller (401), its rights (403), the project (400 BackupService.4008); serve it;
turn it into a 500 if an ``applied-500`` rule fires; write an error in the scenario's ``error_shape``;
stamp the request id (header, or body with ``request_id_in_body``) and a ``Date`` header read from the
emulator's own wall time (so the server clock a client reads is the clock ``updated_at`` is written in,
fake clock included) on whatever answer goes out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from worker.emulator import errors
from worker.emulator.auth import Authenticator, Principal, SignedRequest
from worker.emulator.faults import FaultInjector, fault_error
from worker.emulator.model import SERVER_TYPE, STATUSES
from worker.emulator.routes import PRINCIPAL, CsbsRoutes
from worker.emulator.scenario import Scenario
from worker.emulator.seeding import BackupFactory
from worker.emulator.stats import Stats
from worker.emulator.store import BackupStore
from worker.emulator.timebase import Clock, TimeBase, as_utc, parse_time

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Record = tuple[str, list[str]]
"""A backup record as seeded: (checkpoint id, its item ids)."""

_log = logging.getLogger(__name__)
_TASK_STATUSES = frozenset({"waiting_delete", "deleting", "deleted"})  # only deletion tasks set these


class _Dropped(Exception):
    """The connection was closed on purpose; there is no answer to stamp or count."""


class Emulator:
    """A fake CSBS (and IAM sign-in) for one project, deterministic under a seed and an injected clock.

    Args:
        scenario: how the cloud behaves.
        seed: seeds every random choice (backups, task durations and fates, fault coin tosses).
        clock: monotonic seconds that drive all state; inject a fake one to step time in tests.
        wall_clock: POSIX seconds, read once to anchor the wall times the API shows.
    """

    def __init__(self, scenario: Scenario, seed: int = 0, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self.scenario = scenario
        self._time = TimeBase(clock, wall_clock)
        self._stats = Stats()
        self._store = BackupStore(scenario, self._time, random.Random(f"{seed}:tasks"), self._stats)
        self._stats.bind_outstanding(self._outstanding)
        self._auth = Authenticator(scenario, self._time)
        self._faults = FaultInjector(scenario.faults, random.Random(f"{seed}:faults"))
        self._factory = BackupFactory(random.Random(f"{seed}:backups"), self._time.wall())
        self.app = web.Application(middlewares=[self._middleware])
        CsbsRoutes(scenario, self._store, self._auth).register(self.app)

    def __repr__(self) -> str:
        return f"<Emulator project={self.scenario.project_id} backups={len(self._store.snapshot())}>"

    # -- reading state (tests, benchmarks) ----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """The counters, with task state brought up to now first."""
        self._store.advance()
        return self._stats

    def items(self, checkpoint_id: str | None = None, status: str | None = None,
              as_seen: bool = False) -> list[dict[str, Any]]:
        """Backups that exist now, in the API's JSON shape; ``as_seen`` applies the status lag."""
        return [
            item for item in self._store.snapshot(as_seen)
            if (checkpoint_id is None or item["checkpoint_id"] == checkpoint_id)
            and (status is None or item["status"] == status)
        ]

    def item(self, item_id: str) -> dict[str, Any] | None:
        """One backup now (true status), or None if it is gone."""
        try:
            return self._store.get(item_id, as_seen=False)
        except errors.ApiError:
            return None

    # -- seeding -------------------------------------------------------------------------------------

    def add_item(self, *, checkpoint_id: str | None = None, item_id: str | None = None,
                 status: str = "available", resource_id: str | None = None, name: str | None = None,
                 created_at: datetime | str | None = None, tags: Sequence[Mapping[str, str]] | None = None,
                 resource_name: str | None = None, resource_type: str = SERVER_TYPE,
                 policy_id: str | None = None, description: str = "",
                 image_registered: bool = False, stale_delete_failure: bool = False) -> dict[str, Any]:
        """Add one backup; what is not given is made up (seeded). Returns its JSON.

        ``stale_delete_failure`` makes it look as an earlier failed deletion left it (a crashed run's):
        ``error``, ``fail_op`` delete, with that deletion's old ``fail_reason``, ``updated_at``,
        ``finished_at`` (an hour before now) and ``taskid``, whatever ``status`` says; a ``created_at``
        later than that failure is moved back before it. A new DELETE of it works normally.
        """
        if status not in STATUSES or status in _TASK_STATUSES:
            raise ValueError(f"status {status!r}: use one of {sorted(STATUSES - _TASK_STATUSES)}")
        if isinstance(created_at, str):
            when = parse_time(created_at)
        else:
            when = self._time.wall() if created_at is None else as_utc(created_at)
        item = self._factory.item(item_id or self._factory.uuid(), checkpoint_id or self._factory.uuid(),
                                  when, policy_id, self._factory.server())
        item.status, item.resource_type, item.description = status, resource_type, description
        item.resource_id = resource_id or item.resource_id
        item.resource_name = resource_name or item.resource_name
        item.name = name or item.name
        item.image_registered = image_registered
        if tags is not None:
            item.tags = [dict(tag) for tag in tags]
        if status == "error":
            item.fail_op, item.fail_reason = "backup", "backup failed"
        return self._store.add(item, stale_delete_failure=stale_delete_failure)

    def seed_random(self, n: int) -> list[Record]:
        """Add ``n`` random backup records of 1-3 backups each."""
        return self.seed_plan((None, None) for _ in range(n))

    def seed_plan(self, entries: Iterable[tuple[str | None, Sequence[str] | None]]) -> list[Record]:
        """Add one record per entry: the given item ids, or 1-3 random backups for None."""
        records = []
        for checkpoint_id, item_ids in entries:
            if item_ids is not None:
                self._check_new_ids(item_ids)
            items = self._factory.record(checkpoint_id, item_ids)
            for item in items:
                self._store.add(item)
            records.append((items[0].checkpoint_id, [item.id for item in items]))
        return records

    def _check_new_ids(self, item_ids: Sequence[str]) -> None:
        """Refuse a planned record before adding any of it: no ids, repeated ids, or ids already used."""
        if not item_ids or len(set(item_ids)) != len(item_ids):
            raise ValueError(f"a planned record needs distinct backup ids, got {list(item_ids)}")
        used = [item_id for item_id in item_ids if self._store.known(item_id)]
        if used:
            raise ValueError(f"backup {used[0]} already exists")

    def _outstanding(self, user: str) -> int:
        self._store.advance()
        return self._store.board.outstanding(user)

    # -- the request pipeline ------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_name(request)
        self._stats.note_request(route, _delete_target(request, route))
        try:
            outcome = await self._answer(request, handler, route)
        except _Dropped:
            return web.Response(status=500)  # never sent: the transport is already closed
        response = self._stamped(outcome, uuid.uuid4().hex)
        self._stats.responses_by_status[response.status] += 1
        return response

    def _stamped(self, outcome: web.StreamResponse | errors.ApiError, request_id: str) -> web.StreamResponse:
        """The answer to send: an error in the scenario's shape; the request id and ``Date`` on every one."""
        in_body = self.scenario.request_id_in_body
        if isinstance(outcome, errors.ApiError):
            response: web.StreamResponse = outcome.response(self.scenario.error_shape, request_id if in_body else None)
        else:
            response = outcome
        if not in_body:
            response.headers["X-Request-Id"] = request_id
        # aiohttp would write its own Date from the machine's clock; this one is the clock of updated_at.
        response.headers["Date"] = format_datetime(self._time.wall(), usegmt=True)
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, route: str
    ) -> web.StreamResponse | errors.ApiError:
        if self.scenario.gateway_404 != "none":
            return errors.gateway_not_found(self.scenario.gateway_404)
        fault = self._faults.before(route)
        if fault is not None:
            self._stats.faults_by_kind[fault.kind] += 1
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.kind == "drop":
                _drop(request)
            error = fault_error(fault)
            if error is not None:
                return error
        try:
            if route != "auth":
                request[PRINCIPAL] = await self._admit(request)
            response = await handler(request)
        except errors.ApiError as exc:
            return exc
        except web.HTTPException:  # no such route or method: the gateway's 404, as for any API it lacks
            return errors.gateway_not_found("apig")
        except Exception:  # an emulator bug: still answer in the API's shape, and say so in the log
            _log.exception("emulator failed to serve %s %s", request.method, request.path)
            return errors.internal_error()
        if 200 <= response.status < 300 and (applied := self._faults.after(route)) is not None:
            self._stats.faults_by_kind[applied.kind] += 1
            return fault_error(applied) or errors.internal_error()
        return response

    async def _admit(self, request: web.Request) -> Principal:
        """The caller, if its credentials hold and it may act on the project in the path."""
        project = request.match_info.get("project_id")
        signed = SignedRequest(
            method=request.method, path=request.rel_url.raw_path,
            query=parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True),
            headers=request.headers, body=await request.read(),
        )
        principal = self._auth.authenticate(signed, project)
        s = self.scenario
        if principal.user in s.forbidden_users or (principal.token or "") in s.forbidden_tokens:
            raise errors.forbidden("this user may not use CSBS")
        if project is not None and project != principal.project_id:
            raise errors.forbidden(f"the credentials are scoped to another project than {project}")
        if project is not None and project in s.disabled_projects:
            raise errors.project_disabled()
        if project is not None and project != s.project_id:
            raise errors.forbidden(f"project {project} is not available")
        return principal


def _route_name(request: web.Request) -> str:
    """The fault/stats name of the matched route; ``other`` for paths the API does not have."""
    return request.match_info.route.name or "other"


def _delete_target(request: web.Request, route: str) -> str | None:
    """What a DELETE names: the backup id of ``?checkpoint_items``, else the record id."""
    if route != "delete":
        return None
    return request.query.get("checkpoint_items") or request.match_info["checkpoint_id"]


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (the client sees a disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Dropped
