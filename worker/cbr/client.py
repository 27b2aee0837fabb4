"""The CBR client: one session, one rate limit, and a typed ``Answer`` for every call.

Like ``worker.csbs.CsbsClient``: every call is one attempt, except the single repeat after a 401 when
the authenticator renewed its credential, and the page retries of the listings. Network failures are
transient answers, never exceptions; kinds come from ``worker.cbr.answers.classify``. Every request
sends ``X-Language: en-us`` so that messages come in English (as CHNSZ does).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace, TracebackType
from typing import Any

import aiohttp
import structlog
import yarl
from asyncio_throttle.throttler import Throttler

from worker.cbr import answers
from worker.cbr.paging import Page, collect_pages
from worker.csbs.answers import Answer, AnswerKind
from worker.csbs.auth import Authenticator
from worker.csbs.client import request_pacing
from worker.csbs.wire import answer_from_error, answer_from_response, new_session
from worker.retry import DEFAULT_RETRY_POLICY, RetryPolicy

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
"""Per request: a CBR call answers in well under a second; a minute means the answer is lost."""
DEFAULT_PAGE_SIZE = 1000  # the API's maximum and default
LANGUAGE_HEADERS = {"X-Language": "en-us"}

Filter = str | int | Sequence[str]
"""A query value; a sequence repeats the key (``status=available&status=error``)."""
Pick = Callable[[Any], Any]
"""Takes the useful part out of a decoded OK body; KeyError/TypeError/ValueError mean a malformed answer."""
_log = structlog.get_logger()


class CbrClient:
    """Calls the CBR API of one project; use as ``async with CbrClient(...) as client``.

    Args:
        endpoint: ``https://cbr.{region}.myhuaweicloud.com`` or ``https://cbr.eu-de.otc.t-systems.com``
            (no ``/v3``).
        project_id: the project every call addresses.
        auth: ``TokenAuth``, ``PasswordAuth`` or ``AkSkAuth`` of ``worker.csbs.auth`` (CBR signs alike).
        max_rps: the most CBR requests per second of the whole run (fractions too: 0.2 is one per 5 s).
        timeout: per request; ``DEFAULT_TIMEOUT`` when None.
        retry: the page retries of the listings; ``DEFAULT_RETRY_POLICY`` when None.
        page_size: the ``limit`` of each page.
    """

    def __init__(self, *, endpoint: str, project_id: str, auth: Authenticator, max_rps: float = 20.0,
                 timeout: aiohttp.ClientTimeout | None = None, retry: RetryPolicy | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if max_rps <= 0 or page_size < 1:
            raise ValueError("max_rps and page_size must be positive")
        self.project_url = yarl.URL(endpoint.rstrip("/")) / "v3" / project_id
        self.max_rps = max_rps
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.retry = retry or DEFAULT_RETRY_POLICY
        self.page_size = page_size
        rate_limit, period_s = request_pacing(max_rps)  # below 1 per second too
        self.throttler = Throttler(rate_limit=rate_limit, period=period_s)
        self.calls: Counter[str] = Counter()  #: requests sent, by route ("delete", "get_backup", ..., "auth")
        self._auth = auth
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return (f"<CbrClient {str(self.project_url)!r} auth={self._auth!r} max_rps={self.max_rps} "
                f"calls={dict(self.calls)}>")

    async def __aenter__(self) -> CbrClient:
        self._session = new_session(self.timeout, self._count_request)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the calls ---------------------------------------------------------------------------------------

    async def delete_backup(self, backup_id: str) -> Answer:
        """Start deleting one backup (and its children); OK = any 2xx, its body ignored (point 4)."""
        answer = await self._call("delete", "DELETE", self.project_url / "backups" / backup_id, _ignore_body)
        return await self._confirm_malformed(answer)

    async def get_backup(self, backup_id: str) -> Answer:
        """One backup; ``data`` is its ``backup`` dict."""
        answer = await self._call("get_backup", "GET", self.project_url / "backups" / backup_id, _pick("backup"))
        return await self._confirm_malformed(answer)

    async def get_checkpoint(self, checkpoint_id: str) -> Answer:
        """One restore point; ``data`` is its ``checkpoint`` dict."""
        url = self.project_url / "checkpoints" / checkpoint_id
        return await self._confirm_malformed(await self._call("get_checkpoint", "GET", url, _pick("checkpoint")))

    async def get_vault(self, vault_id: str) -> Answer:
        """One vault; ``data`` is its ``vault`` dict."""
        return await self._call("get_vault", "GET", self.project_url / "vaults" / vault_id, _pick("vault"))

    async def list_backups(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every backup matching ``filters`` (all pages); ``data`` is the list, deduplicated by id."""
        return await self._list_all("list_backups", "backups", filters, deadline)

    async def list_vaults(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every vault matching ``filters`` (all pages)."""
        return await self._list_all("list_vaults", "vaults", filters, deadline)

    async def list_operation_logs(self, *, deadline: float | None = None, **filters: Filter) -> Answer:
        """Every operation log matching ``filters`` (all pages), e.g. ``operation_type="delete"``."""
        return await self._list_all("list_operation_logs", "operation-logs", filters, deadline)

    async def check_credentials(self) -> Answer:
        """``GET vaults?limit=1``: OK when these credentials and this project work right now."""
        url = (self.project_url / "vaults").with_query(limit="1")
        return await self._call("check_credentials", "GET", url, _ignore_body)

    async def list_page(self, route: str, path: str, *, limit: int, offset: int, **filters: Filter) -> Answer:
        """One page; ``data`` is a ``Page``. The first page sends no ``offset`` (``offset=0`` may be refused)."""
        query: dict[str, Filter] = {**filters, "limit": str(limit)}
        if offset:
            query["offset"] = str(offset)
        url = (self.project_url / path).with_query(_query(query))
        return await self._call(route, "GET", url, _pick_page(_LIST_KEYS[path]))

    # -- inside ------------------------------------------------------------------------------------------

    async def _list_all(self, route: str, path: str, filters: Mapping[str, Filter], deadline: float | None) -> Answer:
        async def page(offset: int) -> Answer:
            return await self.list_page(route, path, limit=self.page_size, offset=offset, **filters)

        return await collect_pages(page, self.page_size, self.retry, deadline, route)

    async def _confirm_malformed(self, answer: Answer) -> Answer:
        """Point 6: the 401 "Malformed request url" is GONE only if the same credentials work right now."""
        if not answers.is_malformed_url(answer):
            return answer
        check = await self.check_credentials()
        if check.kind is AnswerKind.OK:
            return dataclasses.replace(answer, kind=AnswerKind.GONE)
        _log.warning("cbr_malformed_url_unconfirmed", check_kind=str(check.kind), **check.log_fields())
        return dataclasses.replace(answer, kind=check.kind if check.retryable else AnswerKind.FATAL)

    async def _call(self, route: str, method: str, url: yarl.URL, pick: Pick) -> Answer:
        """One call, signed in; once more after a 401 (or 9998) if the authenticator renewed its credential."""
        session = self._open_session()
        answer = await self._signed_send(session, route, method, url)
        if answers.needs_reauth(answer):
            renewed = await self._auth.renew(session)
            if isinstance(renewed, Answer) and renewed.retryable:
                return renewed
            if renewed is True:
                answer = await self._signed_send(session, route, method, url)
        return _picked(answer, pick)

    async def _signed_send(self, session: aiohttp.ClientSession, route: str, method: str, url: yarl.URL) -> Answer:
        auth = await self._auth.headers(session, method, url, b"")
        if isinstance(auth, Answer):
            return auth
        headers = {**auth, **LANGUAGE_HEADERS}
        await self.throttler.acquire()  # type: ignore[no-untyped-call]  # the library has no annotations
        try:
            async with session.request(method, url, headers=headers, trace_request_ctx=route) as response:
                return await answer_from_response(response, answers.classify)
        # The total timeout raises a bare TimeoutError, which is not a ClientError: both are caught.
        except (aiohttp.ClientError, TimeoutError) as error:
            return answer_from_error(error)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("CbrClient is not open: use `async with CbrClient(...) as client`")
        return self._session

    async def _count_request(self, session: aiohttp.ClientSession, context: SimpleNamespace,
                             params: aiohttp.TraceRequestStartParams) -> None:
        """Count every request on the session; those the client did not tag are sign-ins."""
        route = context.trace_request_ctx
        self.calls[route if isinstance(route, str) else "auth"] += 1


_LIST_KEYS = {"backups": "backups", "vaults": "vaults", "operation-logs": "operation_logs"}


def _query(values: Mapping[str, Filter]) -> dict[str, str | list[str]]:
    """Query values as text; a sequence (not a string) repeats its key."""
    return {key: [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
            for key, value in values.items()}


def _picked(answer: Answer, pick: Pick) -> Answer:
    """An OK answer with ``data`` narrowed by ``pick``; a malformed OK body is a transient answer."""
    if answer.kind is not AnswerKind.OK:
        return answer
    try:
        return dataclasses.replace(answer, data=pick(answer.data))
    except (KeyError, TypeError, ValueError) as error:
        return dataclasses.replace(answer, kind=AnswerKind.TRANSIENT, data=None,
                                   error_msg=f"malformed answer: {error!r}")


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
