"""What every face's routes share: the route table's form, what the pipeline hands a handler, sign-in.

A face's ``ROUTES`` maps a route name to its method and path; the names are the ``route`` of fault rules
and of ``Stats.requests_by_route``. Handlers find the admitted caller under ``PRINCIPAL``, the request
id the answer will carry under ``REQUEST_ID``, and a fault rule that fired but that the pipeline does not
answer itself (``empty-page``, ``vanished-marker``: a listing plays those) under ``FAULT``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from worker.emulator.core.auth import Authenticator, Principal
from worker.emulator.core.errors import FaceErrors
from worker.emulator.core.scenario import BaseFaultRule

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteTable = Mapping[str, tuple[str, str]]  # route name -> (method, path)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
FAULT = web.RequestKey("fault", BaseFaultRule)
EMPTY_PAGE = "empty-page"
"""A listing's page answers no rows, as at the end of the listing (CBR's ``count`` still says the total)."""


def fault_of(request: web.Request) -> str | None:
    """The kind of the fault rule the handler is to play for this request, if one fired."""
    rule = request.get(FAULT)
    return None if rule is None else rule.kind


def add_routes(app: web.Application, table: RouteTable, handlers: Mapping[str, Handler], prefix: str = "") -> None:
    """Add every route of ``table`` under its name, its path prefixed with ``prefix``."""
    for name, (method, path) in table.items():
        app.router.add_route(method, prefix + path, handlers[name], name=name)


def sign_in(auth: Authenticator, errors: FaceErrors) -> Handler:
    """The IAM password sign-in as both faces answer it: 201, the token in ``X-Subject-Token``,
    ``token.expires_at`` in the body; a body that is not JSON is the face's bad parameter."""

    async def login(request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise errors.bad_parameter("the body is not JSON") from None
        token, issued = auth.login(body)
        base_url = f"{request.scheme}://{request.host}"
        return web.json_response(auth.token_body(issued, base_url), status=201, headers={"X-Subject-Token": token})

    return login
