"""The CSBS client: the CSBS calls of one project, each a typed ``Answer``.

It builds the URLs and picks the useful part of the bodies; ``worker.cloud.transport`` sends every call
(signed in, paced, counted, renewed after a 401) and reads its answer through ``worker.services.csbs.answers.classify``.
The only repeats made here are the page (and count) retries and restarts of ``walk_items``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from typing import Any

import aiohttp
import structlog
import yarl
from asyncio_throttle.throttler import Throttler

from worker.cloud.auth import Authenticator
from worker.cloud.paging import Rows, Tally, page_with_retries
from worker.cloud.transport import DEFAULT_TIMEOUT, ServiceClient, Transport
from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import RetryPolicy
from worker.provider import DEFAULT_PROVIDER_ID
from worker.services.csbs.answers import classify

__all__ = ["DEFAULT_PAGE_SIZE", "DEFAULT_PROVIDER_ID", "DEFAULT_TIMEOUT", "MAX_LISTING_RESTARTS", "CsbsClient"]

DEFAULT_PAGE_SIZE = 1000  # the API's own default
MAX_LISTING_RESTARTS = 3
"""How often ``walk_items`` starts over after its marker vanished before it gives up on the listing."""

_log = structlog.get_logger()


class CsbsClient(ServiceClient):
    """Calls the CSBS API of one project; use as ``async with CsbsClient(...) as client``.

    Args:
        endpoint: ``https://csbs.{region}.myhuaweicloud.com`` (no ``/v1``).
        project_id: the project every call addresses.
        auth: how requests are signed in (``TokenAuth``, ``PasswordAuth``, ``AkSkAuth``).
        provider_id: the fixed CSBS provider.
        max_rps: the most CSBS requests per second the whole run sends (below 1 too: 0.2 is one request
            every 5 s); IAM sign-ins go to another service and are not paced by it.
        timeout: per request; ``DEFAULT_TIMEOUT`` when None.
        retry: the page retries of ``list_items``; ``DEFAULT_RETRY_POLICY`` when None.
        page_size: the ``limit`` of each page ``list_items`` asks for.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        auth: Authenticator,
        provider_id: str = DEFAULT_PROVIDER_ID,
        max_rps: float = 20.0,
        timeout: aiohttp.ClientTimeout | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        throttler: Throttler | None = None,
    ) -> None:
        transport = Transport(auth=auth, classify=classify, max_rps=max_rps, timeout=timeout, name="CsbsClient",
                              throttler=throttler)
        super().__init__(yarl.URL(endpoint.rstrip("/")) / "v1" / project_id, transport, retry, page_size)
        self.provider_id = provider_id

    async def delete_record(self, checkpoint_id: str) -> Answer:
        """Delete a whole backup record (every backup in it); OK means the deletion was queued."""
        return await self.transport.call("delete", "DELETE", self._checkpoint_url(checkpoint_id), _whole_body)

    async def delete_item(self, checkpoint_id: str, item_id: str) -> Answer:
        """Delete one backup of a record (one id per DELETE: how several ids combine is undocumented)."""
        url = self._checkpoint_url(checkpoint_id).with_query(checkpoint_items=item_id)
        return await self.transport.call("delete", "DELETE", url, _whole_body)

    async def get_item(self, item_id: str) -> Answer:
        """One backup; ``data`` is its ``checkpoint_item`` dict."""
        url = self.project_url / "checkpoint_items" / item_id
        return await self.transport.call("get_item", "GET", url, _pick_item)

    async def list_page(self, *, limit: int = DEFAULT_PAGE_SIZE, marker: str | None = None, **filters: str) -> Answer:
        """One page of backups; ``data`` is the list of item dicts."""
        query = {**filters, "limit": str(limit)}
        if marker is not None:
            query["marker"] = marker
        url = (self.project_url / "checkpoint_items").with_query(query)
        return await self.transport.call("list", "GET", url, _pick_items)

    async def list_items(self, *, deadline: float | None = None, **filters: str) -> Answer:
        """Every backup matching ``filters`` (``walk_items`` into a list); ``data`` is the list of all items."""
        items: list[dict[str, Any]] = []
        answer = await self.walk_items(items, deadline=deadline, filters=filters)
        return dataclasses.replace(answer, data=items) if answer.kind is AnswerKind.OK else answer

    async def walk_items(self, into: Rows, *, deadline: float | None = None, counted: bool = False,
                         filters: Mapping[str, str] | None = None) -> Answer:
        """Every backup matching ``filters``, page after page (``page_size`` each) until an empty one, put
        ``into`` a page at a time; ``data`` is the pass's ``Tally`` (``counted``: with the service's count of
        those backups before and after the pages, ``GET checkpoint_items/count``).

        Each page (and count) is retried while throttled or transient (``self.retry``, until ``deadline``, a
        ``loop.time()`` instant); a page that still fails is returned as is. A page answered 404 for its
        ``marker`` (the backup it names was deleted meanwhile) starts the listing over (``into`` cleared), at
        most ``MAX_LISTING_RESTARTS`` times. A listing never answers GONE: a 404 says nothing of a record here.
        """
        for restart in range(MAX_LISTING_RESTARTS + 1):
            into.clear()
            answer, marker = await self._counted_pass(into, dict(filters or {}), deadline, counted)
            if not (answer.status == 404 and marker is not None):
                return _not_gone(answer)
            if restart < MAX_LISTING_RESTARTS:
                _log.info("csbs_listing_restarted", marker=marker, restart=restart + 1, **answer.log_fields())
        return dataclasses.replace(
            answer,
            kind=AnswerKind.TRANSIENT,
            error_msg=f"listing restarted {MAX_LISTING_RESTARTS} times: page markers kept vanishing",
        )

    async def count_items(self, **filters: str) -> Answer:
        """How many backups match ``filters``; ``data`` is an int."""
        url = (self.project_url / "checkpoint_items" / "count").with_query(filters)
        return await self.transport.call("count", "GET", url, _pick_count)

    def _checkpoint_url(self, checkpoint_id: str) -> yarl.URL:
        """The URL of a backup record."""
        return self.project_url / "providers" / self.provider_id / "checkpoints" / checkpoint_id

    async def _counted_pass(self, into: Rows, filters: dict[str, str], deadline: float | None,
                            counted: bool) -> tuple[Answer, str | None]:
        """One pass over the pages (see ``_pass``), between two counts when ``counted``: the answer, ``data``
        its ``Tally``, and the marker of its last page."""
        first = await self._count(filters, deadline) if counted else None
        if first is not None and first.kind is not AnswerKind.OK:
            return first, None
        answer, marker = await self._pass(into, filters, deadline)
        if answer.kind is not AnswerKind.OK:
            return answer, marker
        last = await self._count(filters, deadline) if counted else None
        if last is not None and last.kind is not AnswerKind.OK:
            return last, None
        tally = Tally(answer.data, None if first is None else first.data, None if last is None else last.data)
        return dataclasses.replace(answer, data=tally), marker

    async def _count(self, filters: dict[str, str], deadline: float | None) -> Answer:
        return await page_with_retries(partial(self.count_items, **filters), self.retry, deadline,
                                       "csbs_count_retry")

    async def _pass(self, into: Rows, filters: dict[str, str], deadline: float | None) -> tuple[Answer, str | None]:
        """One pass over the pages: the answer (``data`` = how many distinct items it put ``into``) and the
        marker of its last page."""
        seen: set[Any] = set()
        marker: str | None = None
        while True:
            answer = await page_with_retries(
                partial(self.list_page, limit=self.page_size, marker=marker, **filters), self.retry, deadline,
                "csbs_page_retry")
            if answer.kind is not AnswerKind.OK:
                return answer, marker
            fresh = [item for item in answer.data if item.get("id") not in seen]
            # An empty page ends the listing; so does one with nothing new (a server ignoring the marker).
            if not fresh:
                return dataclasses.replace(answer, data=len(seen)), marker
            seen.update(item.get("id") for item in fresh)
            into.extend(fresh)
            marker = str(answer.data[-1].get("id"))


def _not_gone(answer: Answer) -> Answer:
    """A listing's answer with GONE made transient: no record is named by a listing."""
    if answer.kind is AnswerKind.GONE:
        return dataclasses.replace(answer, kind=AnswerKind.TRANSIENT)
    return answer


def _whole_body(data: Any) -> Any:
    """A DELETE answers ``{}``: kept as it came."""
    return data if data is not None else {}


def _pick_item(data: Any) -> dict[str, Any]:
    """``{"checkpoint_item": {...}}`` -> the item."""
    item = data["checkpoint_item"]
    if not isinstance(item, dict):
        raise TypeError("checkpoint_item is not an object")
    return item


def _pick_items(data: Any) -> list[dict[str, Any]]:
    """``{"checkpoint_items": [...]}`` -> the items."""
    items = data["checkpoint_items"]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError("checkpoint_items is not a list of objects")
    return items


def _pick_count(data: Any) -> int:
    """``{"count": N}`` -> N."""
    count = data["count"]
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError("count is not an integer")
    return count
