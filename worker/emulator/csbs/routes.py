"""The HTTP calls of docs/csbs-api.md and the IAM sign-in, as aiohttp handlers.

Handlers assume the core's pipeline has already applied faults and admitted the caller (see
``worker.emulator.core.pipeline``); they only parse the request, ask the store, and shape the answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from worker.emulator.core.routes import EMPTY_PAGE, PRINCIPAL, Handler, RouteTable, fault_of
from worker.emulator.csbs import errors
from worker.emulator.csbs.query import parse_query
from worker.emulator.csbs.scenario import Scenario
from worker.emulator.csbs.store import BackupStore

VANISHED_MARKER = "vanished-marker"
"""A page asked with a ``marker`` answers 404 CSBS.3001, as for a marker whose backup was deleted since."""

# route name -> (method, path); the names are the ``route`` of fault rules and of ``Stats.requests_by_route``
ROUTES: RouteTable = {
    "auth": ("POST", "/v3/auth/tokens"),
    "delete": ("DELETE", "/v1/{project_id}/providers/{provider_id}/checkpoints/{checkpoint_id}"),
    "count": ("GET", "/v1/{project_id}/checkpoint_items/count"),  # before get_item, which would match it
    "get_item": ("GET", "/v1/{project_id}/checkpoint_items/{item_id}"),
    "list": ("GET", "/v1/{project_id}/checkpoint_items"),
}


class CsbsRoutes:
    """The handlers, bound to one emulator's scenario and its stores by project (the pipeline has refused
    every project without one)."""

    def __init__(self, scenario: Scenario, stores: Mapping[str, BackupStore]) -> None:
        self._scenario = scenario
        self._stores = stores

    def handlers(self) -> Mapping[str, Handler]:
        """The handler of every route but ``auth`` (the password sign-in is the core's), by name."""
        return {"delete": self.delete, "count": self.count,
                "get_item": self.get_item, "list": self.list}

    async def delete(self, request: web.Request) -> web.Response:
        """Queue the deletion of a whole record, or of one backup with ``?checkpoint_items=ID``."""
        if request.match_info["provider_id"] != self._scenario.provider_id:
            raise errors.provider_invalid()
        checkpoint_id = request.match_info["checkpoint_id"]
        user = request[PRINCIPAL].user
        ids = request.query.getall("checkpoint_items", [])
        store = self._store(request)
        if not ids:
            store.delete_record(checkpoint_id, user)
        elif len(ids) == 1 and ids[0] and "," not in ids[0]:
            store.delete_item(checkpoint_id, ids[0].strip(), user)
        else:
            raise errors.bad_parameter("checkpoint_items takes one backup id")
        return web.json_response({})

    async def get_item(self, request: web.Request) -> web.Response:
        """One backup."""
        return web.json_response({"checkpoint_item": self._store(request).get(request.match_info["item_id"])})

    async def list(self, request: web.Request) -> web.Response:
        """One page of backups, filtered and sorted (or as a fault of the listing says: ``empty-page``,
        ``vanished-marker``)."""
        query = parse_query(request.query)
        fault = fault_of(request)
        if fault == VANISHED_MARKER and query.marker is not None:
            raise errors.marker_not_found(query.marker)
        items = [] if fault == EMPTY_PAGE else self._store(request).select(query)
        return web.json_response({"checkpoint_items": items})

    async def count(self, request: web.Request) -> web.Response:
        """How many backups pass the filters."""
        return web.json_response({"count": self._store(request).count(parse_query(request.query))})

    def _store(self, request: web.Request) -> BackupStore:
        """The store of the project in the path."""
        return self._stores[request.match_info["project_id"]]
