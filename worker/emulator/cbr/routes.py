"""The CBR calls of ``docs/cbr-api.md`` (and the IAM sign-in), as aiohttp handlers.

Handlers assume the core's pipeline has applied faults and admitted the caller
(``worker.emulator.core.pipeline``); they parse the request, ask the store and shape the answer.
``ROUTES`` paths are relative to ``/v3``, so the same table serves the stand-alone app (prefix ``/v3``)
and a sub-application mounted at ``/v3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from worker.emulator.cbr.listing import parse_backup_query, parse_paging, parse_window
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.cbr.store import CbrStore
from worker.emulator.core.routes import EMPTY_PAGE, PRINCIPAL, REQUEST_ID, Handler, RouteTable, fault_of

# route name -> (method, path under /v3); the names are the ``route`` of fault rules and of the stats
ROUTES: RouteTable = {
    "auth": ("POST", "/auth/tokens"),
    "delete": ("DELETE", "/{project_id}/backups/{backup_id}"),
    "get_backup": ("GET", "/{project_id}/backups/{backup_id}"),
    "list_backups": ("GET", "/{project_id}/backups"),
    "get_checkpoint": ("GET", "/{project_id}/checkpoints/{checkpoint_id}"),
    "list_vaults": ("GET", "/{project_id}/vaults"),
    "get_vault": ("GET", "/{project_id}/vaults/{vault_id}"),
    "list_operation_logs": ("GET", "/{project_id}/operation-logs"),
}
LOG_FILTERS = ("vault_id", "resource_id", "vault_name", "resource_name")


class CbrRoutes:
    """The handlers, bound to one emulator's scenario and its stores by project (the pipeline has refused
    every project without one)."""

    def __init__(self, scenario: CbrScenario, stores: Mapping[str, CbrStore]) -> None:
        self._s = scenario
        self._stores = stores

    def handlers(self) -> Mapping[str, Handler]:
        """The handler of every route but ``auth`` (the password sign-in is the core's), by name."""
        return {
            "delete": self.delete, "get_backup": self.get_backup,
            "list_backups": self.list_backups, "get_checkpoint": self.get_checkpoint,
            "list_vaults": self.list_vaults, "get_vault": self.get_vault,
            "list_operation_logs": self.list_operation_logs,
        }

    async def delete(self, request: web.Request) -> web.Response:
        """Start deleting one backup: 204 (or the scenario's 200/202 with a body)."""
        store = self._store(request)
        store.delete(request.match_info["backup_id"], request[PRINCIPAL].user, request[REQUEST_ID])
        if self._s.delete_status == 204:
            return web.Response(status=204)
        return web.json_response({}, status=self._s.delete_status)

    async def get_backup(self, request: web.Request) -> web.Response:
        """One backup."""
        return web.json_response({"backup": self._store(request).get_backup(request.match_info["backup_id"])})

    async def list_backups(self, request: web.Request) -> web.Response:
        """One page of backups; ``count`` is the total, or the page's size (point 13)."""
        query = parse_backup_query(request.query, self._offset_zero_refused)
        backups, total = self._store(request).list_backups(query)
        backups = _played(request, backups)
        count = total if self._s.count_is_total else len(backups)
        return web.json_response({"backups": backups, "count": count, "offset": query.paging.offset,
                                  "limit": query.paging.limit})

    async def get_checkpoint(self, request: web.Request) -> web.Response:
        """One restore point."""
        checkpoint = self._store(request).get_checkpoint(request.match_info["checkpoint_id"])
        return web.json_response({"checkpoint": checkpoint})

    async def list_vaults(self, request: web.Request) -> web.Response:
        """One page of vaults."""
        paging = parse_paging(request.query, self._offset_zero_refused)
        vaults, total = self._store(request).list_vaults(paging, request.query.get("name"), request.query.get("id"))
        vaults = _played(request, vaults)
        return web.json_response({"vaults": vaults, "count": total if self._s.count_is_total else len(vaults)})

    async def get_vault(self, request: web.Request) -> web.Response:
        """One vault."""
        return web.json_response({"vault": self._store(request).get_vault(request.match_info["vault_id"])})

    async def list_operation_logs(self, request: web.Request) -> web.Response:
        """One page of operation logs; only ``delete`` ones exist here."""
        query = request.query
        paging = parse_paging(query, self._offset_zero_refused)
        if query.get("operation_type", "delete") != "delete":
            return web.json_response({"operation_logs": [], "count": 0})
        filters = {key: query[key] for key in LOG_FILTERS if key in query}
        logs, total = self._store(request).list_logs(paging, parse_window(query), filters,
                                            frozenset(query.getall("status", [])))
        logs = _played(request, logs)
        return web.json_response({"operation_logs": logs, "count": total if self._s.count_is_total else len(logs)})

    def _store(self, request: web.Request) -> CbrStore:
        """The store of the project in the path."""
        return self._stores[request.match_info["project_id"]]

    @property
    def _offset_zero_refused(self) -> bool:
        return self._s.offset_zero == "refused"


def _played(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A listing's rows, or none when an ``empty-page`` fault fired for this request (its count stays)."""
    return [] if fault_of(request) == EMPTY_PAGE else rows
