"""The request pipeline of the CBR emulator: one aiohttp middleware.

In order: name the route and count the request; a path the API does not have is the gateway's 404
APIGW.0101 (before any auth, as a gateway answers); apply a fault decided before auth (throttle, 5xx,
drop, delay); admit the caller (401, 403, wrong project); serve; turn a success into a 500 if an
``applied-500`` rule fires; stamp ``X-Request-Id`` (the same id the DELETE's operation log may carry).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from worker.emulator import errors as csbs_errors
from worker.emulator.auth import Authenticator, Principal, SignedRequest
from worker.emulator.cbr import errors
from worker.emulator.cbr.faults import CbrFaultInjector, fault_error
from worker.emulator.cbr.routes import PRINCIPAL, REQUEST_ID
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.stats import Stats

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = logging.getLogger(__name__)


class _Dropped(Exception):
    """The connection was closed on purpose; there is no answer to stamp or count."""


class Pipeline:
    """Faults, admission, error shapes and request ids around every handler."""

    def __init__(self, scenario: CbrScenario, auth: Authenticator, faults: CbrFaultInjector, stats: Stats) -> None:
        self._s = scenario
        self._auth = auth
        self._faults = faults
        self._stats = stats

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The whole pipeline; every answer that goes out carries ``X-Request-Id``."""
        route = request.match_info.route.name or "other"
        target = request.match_info.get("backup_id") if route == "delete" else None
        self._stats.note_request(route, target)
        request_id = uuid.uuid4().hex
        request[REQUEST_ID] = request_id
        try:
            response = await self._answer(request, handler, route)
        except _Dropped:
            return web.Response(status=500)  # never sent: the transport is already closed
        response.headers["X-Request-Id"] = request_id
        self._stats.responses_by_status[response.status] += 1
        return response

    async def _answer(self, request: web.Request, handler: Handler, route: str) -> web.StreamResponse:
        bare = self._s.code_form == "bare"
        if route == "other":
            return errors.no_such_api().response(bare)
        fault = self._faults.before(route)
        if fault is not None:
            self._stats.faults_by_kind[fault.kind] += 1
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.kind == "drop":
                _drop(request)
            error = fault_error(fault)
            if error is not None:
                return error.response(bare)
        try:
            if route != "auth":
                request[PRINCIPAL] = await self._admit(request)
            response = await handler(request)
        except errors.CbrError as exc:
            return exc.response(bare)
        except csbs_errors.ApiError as exc:  # the shared authenticator's refusals (401 APIG.0301)
            return errors.CbrError(exc.status, exc.code, exc.message, exc.headers).response(bare)
        except web.HTTPException:  # a method the path does not have: the gateway's answer too
            return errors.no_such_api().response(bare)
        except Exception:  # an emulator bug: still answer in the API's shape, and say so in the log
            _log.exception("CBR emulator failed to serve %s %s", request.method, request.path)
            return errors.internal_error().response(bare)
        if 200 <= response.status < 300 and (applied := self._faults.after(route)) is not None:
            self._stats.faults_by_kind[applied.kind] += 1
            return (fault_error(applied) or errors.internal_error()).response(bare)
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
        if principal.user in self._s.forbidden_users:
            raise errors.forbidden("this user may not use CBR")
        if project != principal.project_id or project != self._s.project_id:
            # Point 6: the "Malformed request url" 401 may also mean a wrong project id.
            if self._s.gone_answer == "401":
                raise errors.malformed_url()
            raise errors.forbidden(f"project {project} is not available to these credentials")
        return principal


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (the client sees a disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Dropped
