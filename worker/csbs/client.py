"""The CSBS client: one session, one rate limit, and a typed ``Answer`` for every call.

Every call is one attempt; the only repeats made here are the single retry after a 401 when the
authenticator has renewed its credential, and the page retries of ``list_items``. Network failures
become transient answers, never exceptions; ``worker.csbs.wire`` reads the answers and the kinds come from
``worker.csbs.answers.classify``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace, TracebackType
from typing import Any

import aiohttp
import structlog
import yarl
from asyncio_throttle.throttler import Throttler

from worker.csbs.answers import Answer, AnswerKind
from worker.csbs.auth import Authenticator
from worker.csbs.wire import answer_from_error, answer_from_response, new_session, parse_retry_after
from worker.provider import DEFAULT_PROVIDER_ID
from worker.retry import DEFAULT_RETRY_POLICY, RetryPolicy, call_with_retries

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PROVIDER_ID",
    "DEFAULT_TIMEOUT",
    "MAX_LISTING_RESTARTS",
    "CsbsClient",
    "answer_from_error",  # re-exported: the readers live in worker.csbs.wire
    "answer_from_response",
    "parse_retry_after",
    "request_pacing",
]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
"""Per request: a CSBS call answers in well under a second; a minute means the answer is lost."""
DEFAULT_PAGE_SIZE = 1000  # the API's own default
MAX_LISTING_RESTARTS = 3
"""How often ``list_items`` starts over after its marker vanished before it gives up on the listing."""

_log = structlog.get_logger()
Pick = Callable[[Any], Any]
"""Takes the useful part out of a decoded OK body; KeyError/TypeError mean a malformed answer."""


class CsbsClient:
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
    ) -> None:
        if max_rps <= 0 or page_size < 1:
            raise ValueError("max_rps and page_size must be positive")
        self.project_url = yarl.URL(endpoint.rstrip("/")) / "v1" / project_id
        self.provider_id = provider_id
        self.max_rps = max_rps
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.retry = retry or DEFAULT_RETRY_POLICY
        self.page_size = page_size
        rate_limit, period_s = request_pacing(max_rps)
        self.throttler = Throttler(rate_limit=rate_limit, period=period_s)
        self.calls: Counter[str] = Counter()  #: requests sent, by route ("delete", "get_item", ..., "auth")
        self._auth = auth
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return (
            f"<CsbsClient {str(self.project_url)!r} auth={self._auth!r} max_rps={self.max_rps} "
            f"calls={dict(self.calls)}>"
        )

    async def __aenter__(self) -> CsbsClient:
        self._session = new_session(self.timeout, self._count_request)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def delete_record(self, checkpoint_id: str) -> Answer:
        """Delete a whole backup record (every backup in it); OK means the deletion was queued."""
        return await self._call("delete", "DELETE", self._checkpoint_url(checkpoint_id), _whole_body)

    async def delete_item(self, checkpoint_id: str, item_id: str) -> Answer:
        """Delete one backup of a record (one id per DELETE: how several ids combine is undocumented)."""
        url = self._checkpoint_url(checkpoint_id).with_query(checkpoint_items=item_id)
        return await self._call("delete", "DELETE", url, _whole_body)

    async def get_item(self, item_id: str) -> Answer:
        """One backup; ``data`` is its ``checkpoint_item`` dict."""
        url = self.project_url / "checkpoint_items" / item_id
        return await self._call("get_item", "GET", url, _pick_item)

    async def list_page(self, *, limit: int = DEFAULT_PAGE_SIZE, marker: str | None = None, **filters: str) -> Answer:
        """One page of backups; ``data`` is the list of item dicts."""
        query = {**filters, "limit": str(limit)}
        if marker is not None:
            query["marker"] = marker
        url = (self.project_url / "checkpoint_items").with_query(query)
        return await self._call("list", "GET", url, _pick_items)

    async def list_items(self, *, deadline: float | None = None, **filters: str) -> Answer:
        """Every backup matching ``filters``, page after page (``page_size`` each) until an empty one.

        Each page is retried while throttled or transient (``self.retry``, until ``deadline``, a
        ``loop.time()`` instant); a page that still fails is returned as is. A page answered 404 for its
        ``marker`` (the backup it names was deleted meanwhile) starts the listing over, at most
        ``MAX_LISTING_RESTARTS`` times. A listing never answers GONE: a 404 says nothing of a record here.
        ``data`` is the list of all items.
        """
        for restart in range(MAX_LISTING_RESTARTS + 1):
            answer, marker = await self._list_all_pages(filters, deadline)
            if not (answer.status == 404 and marker is not None):
                return _not_gone(answer)
            _log.info("csbs_listing_restarted", marker=marker, restart=restart + 1, **answer.log_fields())
        return dataclasses.replace(
            answer,
            kind=AnswerKind.TRANSIENT,
            error_msg=f"listing restarted {MAX_LISTING_RESTARTS} times: page markers kept vanishing",
        )

    async def count_items(self, **filters: str) -> Answer:
        """How many backups match ``filters``; ``data`` is an int."""
        url = (self.project_url / "checkpoint_items" / "count").with_query(filters)
        return await self._call("count", "GET", url, _pick_count)

    def _checkpoint_url(self, checkpoint_id: str) -> yarl.URL:
        """The URL of a backup record."""
        return self.project_url / "providers" / self.provider_id / "checkpoints" / checkpoint_id

    async def _list_all_pages(self, filters: dict[str, str], deadline: float | None) -> tuple[Answer, str | None]:
        """One pass over the pages: the answer (``data`` = every item) and the marker of its last page."""
        items: list[dict[str, Any]] = []
        seen: set[Any] = set()
        marker: str | None = None
        while True:
            answer = await self._list_page_with_retries(marker, filters, deadline)
            if answer.kind is not AnswerKind.OK:
                return answer, marker
            fresh = [item for item in answer.data if item.get("id") not in seen]
            # An empty page ends the listing; so does one with nothing new (a server ignoring the marker).
            if not fresh:
                return dataclasses.replace(answer, data=items), marker
            items.extend(fresh)
            seen.update(item.get("id") for item in fresh)
            marker = str(answer.data[-1].get("id"))

    async def _list_page_with_retries(
        self, marker: str | None, filters: dict[str, str], deadline: float | None
    ) -> Answer:
        """One page, sent again while throttled or transient."""

        async def page() -> Answer:
            return await self.list_page(limit=self.page_size, marker=marker, **filters)

        def log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
            _log.info("csbs_page_retry", attempt=attempt, delay_s=round(delay_s, 3), **answer.log_fields())

        answer, _ = await call_with_retries(page, self.retry, deadline=deadline, on_retry=log_retry)
        return answer

    async def _call(self, route: str, method: str, url: yarl.URL, pick: Pick) -> Answer:
        """One call, signed in; after a 401, once more if the authenticator renewed its credential.

        A failed sign-in (e.g. the IAM login answered 401 or timed out) is the call's answer.
        """
        session = self._open_session()
        auth = await self._auth.headers(session, method, url, b"")
        if isinstance(auth, Answer):
            return auth
        answer = await self._send(session, route, method, url, auth)
        if answer.status == 401:
            renewed = await self._auth.renew(session)
            if isinstance(renewed, Answer) and renewed.retryable:
                return renewed  # IAM is unavailable right now: the caller retries, the run goes on
            if renewed is True:
                auth = await self._auth.headers(session, method, url, b"")
                answer = auth if isinstance(auth, Answer) else await self._send(session, route, method, url, auth)
        return _picked(answer, pick)

    async def _send(
        self, session: aiohttp.ClientSession, route: str, method: str, url: yarl.URL, headers: dict[str, str]
    ) -> Answer:
        """One request through the shared rate limit; no HTTP answer at all is a transient answer."""
        await self.throttler.acquire()  # type: ignore[no-untyped-call]  # the library has no annotations
        try:
            async with session.request(method, url, headers=headers, trace_request_ctx=route) as response:
                return await answer_from_response(response)
        # The total timeout raises a bare TimeoutError, which is not a ClientError: both are caught.
        except (aiohttp.ClientError, TimeoutError) as error:
            return answer_from_error(error)

    def _open_session(self) -> aiohttp.ClientSession:
        """The run's session; calls outside ``async with`` are a programming error."""
        if self._session is None:
            raise RuntimeError("CsbsClient is not open: use `async with CsbsClient(...) as client`")
        return self._session

    async def _count_request(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        """Count every request on the session; those the client did not tag are sign-ins."""
        route = context.trace_request_ctx
        self.calls[route if isinstance(route, str) else "auth"] += 1


def request_pacing(max_rps: float) -> tuple[int, float]:
    """``(rate_limit, period_s)`` of a throttler that lets ``max_rps`` requests per second through, exactly.

    A whole number of requests per a period of a second or more, so that 0.2 is one request per 5 s
    and 2.5 is two per 0.8 s (rounding up would let more through than asked).
    """
    rate_limit = max(1, math.floor(max_rps))
    return rate_limit, rate_limit / max_rps


def _not_gone(answer: Answer) -> Answer:
    """A listing's answer with GONE made transient: no record is named by a listing."""
    if answer.kind is AnswerKind.GONE:
        return dataclasses.replace(answer, kind=AnswerKind.TRANSIENT)
    return answer


def _picked(answer: Answer, pick: Pick) -> Answer:
    """An OK answer with ``data`` narrowed by ``pick``; a malformed OK body is a transient answer."""
    if answer.kind is not AnswerKind.OK:
        return answer
    try:
        return dataclasses.replace(answer, data=pick(answer.data))
    except (KeyError, TypeError, ValueError) as error:
        return dataclasses.replace(
            answer, kind=AnswerKind.TRANSIENT, data=None, error_msg=f"malformed answer: {error!r}"
        )


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
