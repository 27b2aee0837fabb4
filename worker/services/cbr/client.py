"""The CBR client: the CBR calls of one project, each a typed ``Answer``.

It builds the URLs and picks the useful part of the bodies; ``worker.cloud.transport`` sends every call
(signed in, paced, counted, renewed after a 401 or ``BackupService.9998``) and reads its answer through
``worker.services.cbr.answers.classify``. The only repeats made here are the page retries of the listings
(``worker.cloud.paging``) and the credentials check after a "Malformed request url". Every request sends
``X-Language: en-us`` so that messages come in English (as CHNSZ does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import structlog
import yarl
from asyncio_throttle.throttler import Throttler

from worker.cloud.auth import Authenticator
from worker.cloud.paging import Page, Rows, collect_pages, stream_pages
from worker.cloud.transport import DEFAULT_TIMEOUT, Pick, ServiceClient, Transport
from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import RetryPolicy
from worker.services.cbr import answers

__all__ = ["DEFAULT_PAGE_SIZE", "DEFAULT_TIMEOUT", "LANGUAGE_HEADERS", "CbrClient"]

DEFAULT_PAGE_SIZE = 1000  # the API's maximum and default
LANGUAGE_HEADERS = {"X-Language": "en-us"}

Filter = str | int | Sequence[str]
"""A query value; a sequence repeats the key (``status=available&status=error``)."""
_log = structlog.get_logger()


class CbrClient(ServiceClient):
    """Calls the CBR API of one project; use as ``async with CbrClient(...) as client``.

    Args:
        endpoint: ``https://cbr.{region}.myhuaweicloud.com`` or ``https://cbr.eu-de.otc.t-systems.com``
            (no ``/v3``).
        project_id: the project every call addresses.
        auth: ``TokenAuth``, ``PasswordAuth`` or ``AkSkAuth`` of ``worker.cloud.auth`` (CBR signs alike).
        max_rps: the most CBR requests per second of the whole run (fractions too: 0.2 is one per 5 s).
        timeout: per request; ``DEFAULT_TIMEOUT`` when None.
        retry: the page retries of the listings; ``DEFAULT_RETRY_POLICY`` when None.
        page_size: the ``limit`` of each page.
    """

    def __init__(self, *, endpoint: str, project_id: str, auth: Authenticator, max_rps: float = 20.0,
                 timeout: aiohttp.ClientTimeout | None = None, retry: RetryPolicy | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE, throttler: Throttler | None = None) -> None:
        transport = Transport(auth=auth, classify=answers.classify, needs_reauth=answers.needs_reauth,
                              headers=LANGUAGE_HEADERS, max_rps=max_rps, timeout=timeout, name="CbrClient",
                              throttler=throttler)
        super().__init__(yarl.URL(endpoint.rstrip("/")) / "v3" / project_id, transport, retry, page_size)

    # -- the calls ---------------------------------------------------------------------------------------

    async def delete_backup(self, backup_id: str) -> Answer:
        """Start deleting one backup (and its children); OK = any 2xx, its body ignored (point 4)."""
        url = self.project_url / "backups" / backup_id
        return await self._confirm_malformed(await self.transport.call("delete", "DELETE", url, _ignore_body))

    async def get_backup(self, backup_id: str) -> Answer:
        """One backup; ``data`` is its ``backup`` dict."""
        url = self.project_url / "backups" / backup_id
        return await self._confirm_malformed(await self.transport.call("get_backup", "GET", url, _pick("backup")))

    async def get_checkpoint(self, checkpoint_id: str) -> Answer:
        """One restore point; ``data`` is its ``checkpoint`` dict."""
        url = self.project_url / "checkpoints" / checkpoint_id
        answer = await self.transport.call("get_checkpoint", "GET", url, _pick("checkpoint"))
        return await self._confirm_malformed(answer)

    async def get_vault(self, vault_id: str) -> Answer:
        """One vault; ``data`` is its ``vault`` dict."""
        url = self.project_url / "vaults" / vault_id
        return await self.transport.call("get_vault", "GET", url, _pick("vault"))

    async def list_backups(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every backup matching ``filters`` (all pages); ``data`` is the list, deduplicated by id."""
        return await self._list_all("list_backups", "backups", filters, deadline)

    async def list_vaults(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every vault matching ``filters`` (all pages)."""
        return await self._list_all("list_vaults", "vaults", filters, deadline)

    async def walk_backups(self, into: Rows, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every backup matching ``filters``, put ``into`` a page at a time; ``data`` is the pass's ``Tally``."""
        into.clear()
        return await stream_pages(self._pages("list_backups", "backups", filters), self.page_size, self.retry,
                                  deadline, "list_backups", into)

    async def walk_vaults(self, into: Rows, *, deadline: float | None = None) -> Answer:
        """Every vault, put ``into`` a page at a time; ``data`` is the pass's ``Tally``."""
        into.clear()
        return await stream_pages(self._pages("list_vaults", "vaults", {}), self.page_size, self.retry, deadline,
                                  "list_vaults", into)

    async def list_operation_logs(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every operation log matching ``filters`` (all pages), e.g. ``operation_type="delete"``."""
        return await self._list_all("list_operation_logs", "operation-logs", filters, deadline)

    async def check_credentials(self) -> Answer:
        """``GET vaults?limit=1``: OK when these credentials and this project work right now."""
        url = (self.project_url / "vaults").with_query(limit="1")
        return await self.transport.call("check_credentials", "GET", url, _pick_page("vaults"))

    async def list_page(self, route: str, path: str, *, limit: int, offset: int, **filters: Filter) -> Answer:
        """One page; ``data`` is a ``Page``. The first page sends no ``offset`` (``offset=0`` may be refused)."""
        query: dict[str, Filter] = {**filters, "limit": str(limit)}
        if offset:
            query["offset"] = str(offset)
        url = (self.project_url / path).with_query(_query(query))
        return await self.transport.call(route, "GET", url, _pick_page(_LIST_KEYS[path]))

    # -- inside ------------------------------------------------------------------------------------------

    async def _list_all(self, route: str, path: str, filters: Mapping[str, Filter], deadline: float | None) -> Answer:
        return await collect_pages(self._pages(route, path, filters), self.page_size, self.retry, deadline, route)

    def _pages(self, route: str, path: str, filters: Mapping[str, Filter]) -> Callable[[int], Awaitable[Answer]]:
        """The page of a listing at an offset."""
        async def page(offset: int) -> Answer:
            return await self.list_page(route, path, limit=self.page_size, offset=offset, **filters)

        return page

    async def _confirm_malformed(self, answer: Answer) -> Answer:
        """Point 6: the 401 "Malformed request url" is GONE only if the same credentials work right now."""
        if not answers.is_malformed_url(answer):
            return answer
        check = await self.check_credentials()
        if check.kind is AnswerKind.OK:
            return dataclasses.replace(answer, kind=AnswerKind.GONE)
        _log.warning("cbr_malformed_url_unconfirmed", check_kind=str(check.kind), **check.log_fields())
        return dataclasses.replace(answer, kind=check.kind if check.retryable else AnswerKind.FATAL)


_LIST_KEYS = {"backups": "backups", "vaults": "vaults", "operation-logs": "operation_logs"}


def _query(values: Mapping[str, Filter]) -> dict[str, str | list[str]]:
    """Query values as text; a sequence (not a string) repeats its key."""
    return {key: [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
            for key, value in values.items()}


def _ignore_body(data: Any) -> None:
    """Point 4: a DELETE may answer 200/202 with a body, or 204 without; nothing in it is used."""
    return None


def _pick(key: str) -> Pick:
    """``{key: {...}}`` -> the object."""

    def pick(data: Any) -> dict[str, Any]:
        value = data[key]
        if not isinstance(value, dict):
            raise TypeError(f"{key} is not an object")
        return value

    return pick


def _pick_page(key: str) -> Pick:
    """``{key: [...], "count": N}`` -> a ``Page`` (``count`` None when absent)."""

    def pick(data: Any) -> Page:
        rows = data[key]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError(f"{key} is not a list of objects")
        count = data.get("count")
        return Page(rows, count if isinstance(count, int) and not isinstance(count, bool) else None)

    return pick
