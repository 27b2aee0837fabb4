"""The request pipeline of both faces: one aiohttp middleware.

In order: name the route and count the request; answer the gateway's own error if the face's door says
so (a wrong endpoint, a path the API does not have); apply a fault decided before auth (throttle, 5xx,
gateway 404, drop, delay); admit the caller (401, then the face's 403 and project checks); serve; turn
a success into a 500 if an ``applied-500`` rule fires; write an error in the face's ``ErrorStyle``; stamp
the request id (the header, or the body when the style says so; the same id a handler reads under
``REQUEST_ID``) and, if the face wants it, a ``Date`` header read from the emulator's own wall time (so
the server clock a client reads is the clock ``updated_at`` is written in, fake clock included) on
whatever answer goes out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import parse_qsl

from aiohttp import web

from worker.emulator.core.auth import Authenticator, Principal, SignedRequest
from worker.emulator.core.errors import ApiError, ErrorStyle, FaceErrors
from worker.emulator.core.faults import FaultInjector, fault_error
from worker.emulator.core.routes import FAULT, PRINCIPAL, REQUEST_ID, Handler
from worker.emulator.core.stats import Stats
from worker.emulator.core.timebase import TimeBase

_log = logging.getLogger(__name__)


class Door(Protocol):
    """What a face decides in the pipeline: its errors and how they are written, the gateway's own
    answers, who may come in, and what a DELETE names."""

    @property
    def title(self) -> str: ...

    @property
    def errors(self) -> FaceErrors: ...

    @property
    def style(self) -> ErrorStyle: ...

    @property
    def stamps_date(self) -> bool: ...

    def gateway(self, route: str) -> ApiError | None:
        """The gateway's answer before anything else (``other`` is a path the API does not have)."""

    def admit(self, principal: Principal, project: str | None) -> None:
        """Raise the face's refusal if this authenticated caller may not act on ``project`` (the path's)."""

    def delete_target(self, request: web.Request) -> str | None:
        """What a DELETE (route ``delete``) names, for ``Stats.deletes_by_target``."""


class _Dropped(Exception):
    """The connection was closed on purpose; there is no answer to stamp or count."""


class Pipeline:
    """Faults, admission, error shapes, request ids and the ``Date`` around every handler.

    Args:
        door: the face's decisions.
        auth: checks tokens and signatures.
        faults: the scenario's fault rules.
        stats: counts requests, answers and faults.
        timebase: the wall time of the ``Date`` header.
    """

    def __init__(self, door: Door, auth: Authenticator, faults: FaultInjector, stats: Stats,
                 timebase: TimeBase) -> None:
        self._door = door
        self._auth = auth
        self._faults = faults
        self._stats = stats
        self._time = timebase

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The whole pipeline; every answer that goes out carries the request id."""
        route = request.match_info.route.name or "other"
        self._stats.note_request(route, self._door.delete_target(request) if route == "delete" else None)
        request_id = uuid.uuid4().hex
        request[REQUEST_ID] = request_id
        try:
            outcome = await self._answer(request, handler, route)
        except _Dropped:
            return web.Response(status=500)  # never sent: the transport is already closed
        response = self._stamped(outcome, request_id)
        self._stats.responses_by_status[response.status] += 1
        return response

    def _stamped(self, outcome: web.StreamResponse | ApiError, request_id: str) -> web.StreamResponse:
        """The answer to send: an error in the face's style; the request id (and ``Date``) on every one."""
        style = self._door.style
        response = outcome.response(style, request_id) if isinstance(outcome, ApiError) else outcome
        if not style.request_id_in_body:
            response.headers["X-Request-Id"] = request_id
        if self._door.stamps_date:
            # aiohttp would write its own Date from the machine's clock; this one is the clock of updated_at.
            response.headers["Date"] = format_datetime(self._time.wall(), usegmt=True)
        return response

    async def _answer(self, request: web.Request, handler: Handler, route: str) -> web.StreamResponse | ApiError:
        errors = self._door.errors
        closed = self._door.gateway(route)
        if closed is not None:
            return closed
        fault = self._faults.before(route)
        if fault is not None:
            self._stats.faults_by_kind[fault.kind] += 1
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.kind == "drop":
                _drop(request)
            error = fault_error(fault, errors)
            if error is not None:
                return error
            request[FAULT] = fault  # not an error answer: the handler plays it (a listing's empty page...)
        try:
            if route != "auth":
                request[PRINCIPAL] = await self._admit(request)
            response = await handler(request)
        except ApiError as exc:
            return exc
        except web.HTTPException:  # no such route or method: the gateway's 404, as for any API it lacks
            return errors.no_such_api()
        except Exception:  # an emulator bug: still answer in the API's shape, and say so in the log
            _log.exception("%s emulator failed to serve %s %s", self._door.title, request.method, request.path)
            return errors.internal_error()
        if 200 <= response.status < 300 and (applied := self._faults.after(route)) is not None:
            self._stats.faults_by_kind[applied.kind] += 1
            return fault_error(applied, errors) or errors.internal_error()
        return response

    async def _admit(self, request: web.Request) -> Principal:
        """The caller, if its credentials hold and the face lets it act on the project in the path."""
        project = request.match_info.get("project_id")
        signed = SignedRequest(
            method=request.method, path=request.rel_url.raw_path,
            query=parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True),
            headers=request.headers, body=await request.read(),
        )
        principal = self._auth.authenticate(signed, project)
        self._door.admit(principal, project)
        return principal


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (the client sees a disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Dropped
