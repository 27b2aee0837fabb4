"""The one HTTP transport of the Huawei kernel, and the shell every service client is built on.

A service client (``CsbsClient``, ``CbrClient``) only builds URLs and picks the useful part of bodies; every
request goes through ``Transport.call``, which owns the rest: the run's one session, its one rate limit, the
count of requests by route, the sign-in headers, the renewal of a rejected sign-in, the service's extra
headers and its table of answers. Every call is one request, except the re-sends after renewals; network
failures are transient answers, never exceptions.

Renewal (docs/design.md, Retries): an answer the service's ``needs_reauth`` marks (any 401; CBR also
``BackupService.9998``) renews the sign-in and sends the call again. A renewed token can be rejected too (a
short-lived token may expire on its way), so it is renewed again, but at most ``MAX_RENEWALS`` times in a row
without a call the service accepted; then the rejection is the answer (fatal: exit 3). A login IAM refuses
(401/403) is fatal at once, and one that fails for a while (IAM unavailable) is the call's transient answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping
from types import SimpleNamespace, TracebackType
from typing import Any, Self

import aiohttp
import structlog
import yarl
from asyncio_throttle.throttler import Throttler

from worker.cloud.auth import Authenticator
from worker.cloud.wire import Classify, answer_from_error, answer_from_response
from worker.engine.answer import Answer, AnswerKind
from worker.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
"""Per request: a CSBS or CBR call answers in well under a second; a minute means the answer is lost."""
MAX_RENEWALS = 3
"""Renewed sign-ins in a row, without a call the service accepted, before a rejection is final."""

Pick = Callable[[Any], Any]
"""Takes the useful part out of a decoded OK body; KeyError/TypeError/ValueError mean a malformed answer."""
NeedsReauth = Callable[[Answer], bool]
"""True for an answer that rejects the sign-in (renew it and send again)."""

_log = structlog.get_logger()


def is_401(answer: Answer) -> bool:
    """The rejection every service shares: HTTP 401."""
    return answer.status == 401


def as_is(data: Any) -> Any:
    """An OK body kept whole."""
    return data


class Transport:
    """Sends the calls of one service client: signed in, paced, counted, and read into ``Answer`` values.

    Open it (``await open()``) before the first call and ``close()`` it after the last: one session serves
    them all.

    Args:
        auth: how requests are signed in (``TokenAuth``, ``PasswordAuth``, ``AkSkAuth``).
        classify: the service's table of kinds (``worker.services.csbs.answers.classify`` for CSBS).
        needs_reauth: which answers reject the sign-in; any 401 by default.
        headers: sent with every request besides the sign-in ones (CBR: ``X-Language``).
        max_rps: the most requests per second the whole client sends (below 1 too: 0.2 is one request every
            5 s); IAM sign-ins go to another service and are not paced by it.
        throttler: a rate limit shared with other clients (``rate_limit``: a fleet user's, over all its
            targets, as the cloud counts it); by default the client's own, of ``max_rps``.
        timeout: per request; ``DEFAULT_TIMEOUT`` when None.
        name: the client's name in messages.
    """

    def __init__(self, *, auth: Authenticator, classify: Classify, needs_reauth: NeedsReauth = is_401,
                 headers: Mapping[str, str] | None = None, max_rps: float = 20.0,
                 timeout: aiohttp.ClientTimeout | None = None, name: str = "Transport",
                 throttler: Throttler | None = None) -> None:
        if max_rps <= 0:
            raise ValueError("max_rps must be positive")
        self.auth = auth
        self.max_rps = max_rps
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.throttler = throttler or rate_limit(max_rps)
        self.calls: Counter[str] = Counter()  #: requests sent, by route ("delete", "get_item", ..., "auth")
        self._classify = classify
        self._needs_reauth = needs_reauth
        self._headers = dict(headers or {})
        self._name = name
        self._session: aiohttp.ClientSession | None = None
        self._renewing = asyncio.Lock()
        self._generation = 0  # renewals made through this transport: tells a call whether one came since it signed
        self._renewals_in_a_row = 0  # renewals since the service last accepted a call

    def __repr__(self) -> str:
        return f"<Transport of {self._name} auth={self.auth!r} max_rps={self.max_rps} calls={dict(self.calls)}>"

    async def open(self) -> None:
        """Open the session every call uses."""
        self._session = new_session(self.timeout, self._count_request)

    async def close(self) -> None:
        """Close the session (again: nothing)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session; calls outside ``async with`` are a programming error."""
        if self._session is None:
            raise RuntimeError(f"{self._name} is not open: use `async with {self._name}(...) as client`")
        return self._session

    async def call(self, route: str, method: str, url: yarl.URL, pick: Pick = as_is) -> Answer:
        """One call, signed in, counted under ``route``; sent again after each renewal of a rejected sign-in.

        An OK answer's ``data`` is narrowed by ``pick`` (a malformed body makes it transient). A failed
        sign-in is the call's answer, and nothing is sent.
        """
        session = self.session
        renewals = 0
        while True:
            await self.throttler.acquire()  # type: ignore[no-untyped-call]  # the library has no annotations
            # Signed after the wait in the rate limit, so that a token cannot expire in its queue.
            generation = self._generation
            signed = await self.auth.headers(session, method, url, b"")
            if isinstance(signed, Answer):
                return dataclasses.replace(signed, signin_refused=signed.kind is AnswerKind.FATAL)
            answer = await self._send(session, route, method, url, {**signed, **self._headers})
            if not self._needs_reauth(answer) or renewals == MAX_RENEWALS:
                break
            renewed = await self._renew(session, generation)
            if isinstance(renewed, Answer) and renewed.retryable:
                return renewed  # IAM is unavailable right now: the caller retries, the run goes on
            if renewed is not True:
                break  # nothing to renew, or IAM refused the login: the rejection stands
            renewals += 1
        if self._needs_reauth(answer):
            answer = dataclasses.replace(answer, signin_refused=True)  # renewed as often as it helps: refused
        elif not answer.retryable and answer.kind is not AnswerKind.FATAL:
            self._renewals_in_a_row = 0  # the service accepted the sign-in
        return _picked(answer, pick)

    async def _renew(self, session: aiohttp.ClientSession, generation: int) -> bool | Answer:
        """Renew the sign-in rejected after ``generation`` renewals, once for all the calls it failed, and at
        most ``MAX_RENEWALS`` times in a row; True when a credential not yet tried by the caller is in force."""
        async with self._renewing:
            if generation != self._generation:
                return True  # renewed since the caller signed in: it sends again with the new credential
            if self._renewals_in_a_row >= MAX_RENEWALS:
                _log.warning("auth_renewals_exhausted", renewals=self._renewals_in_a_row)
                return False
            renewed = await self.auth.renew(session)
            if renewed is True:
                self._generation += 1
                self._renewals_in_a_row += 1
            return renewed

    async def _send(
        self, session: aiohttp.ClientSession, route: str, method: str, url: yarl.URL, headers: dict[str, str]
    ) -> Answer:
        """One request; no HTTP answer at all is a transient answer."""
        try:
            async with session.request(method, url, headers=headers, trace_request_ctx=route) as response:
                return await answer_from_response(response, self._classify)
        # The total timeout raises a bare TimeoutError, which is not a ClientError: both are caught.
        except (aiohttp.ClientError, TimeoutError) as error:
            return answer_from_error(error)

    async def _count_request(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        """Count every request on the session; those the transport did not tag are sign-ins."""
        route = context.trace_request_ctx
        self.calls[route if isinstance(route, str) else "auth"] += 1


class ServiceClient:
    """What every service client shares: its transport, its retry policy and page size, ``async with``.

    Args:
        project_url: the base of every call (``{endpoint}/v1/{project_id}`` for CSBS).
        transport: the client's transport (not open yet).
        retry: the page retries of the listings; ``DEFAULT_RETRY_POLICY`` when None.
        page_size: the ``limit`` of each page of a listing.
    """

    def __init__(self, project_url: yarl.URL, transport: Transport, retry: RetryPolicy | None, page_size: int) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.project_url = project_url
        self.transport = transport
        self.max_rps = transport.max_rps
        self.timeout = transport.timeout
        self.retry = retry or DEFAULT_RETRY_POLICY
        self.page_size = page_size
        self.calls = transport.calls  #: requests sent, by route; sign-ins count as "auth"

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {str(self.project_url)!r} auth={self.transport.auth!r} "
                f"max_rps={self.max_rps} calls={dict(self.calls)}>")

    async def __aenter__(self) -> Self:
        await self.transport.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.transport.close()


def rate_limit(max_rps: float) -> Throttler:
    """A limit of ``max_rps`` requests per second, for one client or shared by several (``request_pacing``)."""
    limit, period_s = request_pacing(max_rps)
    return Throttler(rate_limit=limit, period=period_s)


def request_pacing(max_rps: float) -> tuple[int, float]:
    """``(rate_limit, period_s)`` of a throttler that lets ``max_rps`` requests per second through, exactly.

    A whole number of requests per a period of a second or more, so that 0.2 is one request per 5 s
    and 2.5 is two per 0.8 s (rounding up would let more through than asked).
    """
    rate_limit = max(1, math.floor(max_rps))
    return rate_limit, rate_limit / max_rps


def new_session(timeout: aiohttp.ClientTimeout, on_request_start: Any) -> aiohttp.ClientSession:
    """The one HTTP session of a client, counting every request it sends through ``on_request_start``.

    aiohttp silently sends an idempotent request (GET, DELETE) a second time when the connection drops; one
    call must be one request on the wire, so retries stay ours, counted and paced (aiohttp's own test client
    turns it off the same way).
    """
    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(on_request_start)
    session = aiohttp.ClientSession(timeout=timeout, trace_configs=[tracing])
    session._retry_connection = False
    return session


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
