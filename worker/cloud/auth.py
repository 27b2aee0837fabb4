"""The three ways to sign in to CSBS: a ready token, an IAM password login, and AK/SK signing.

Each is an ``Authenticator``: the transport (``worker.cloud.transport``) asks it for the headers of every
request, and after a rejection asks it to ``renew`` (at most ``MAX_RENEWALS`` times in a row without a call
the service accepted). Secrets stay in private attributes and every ``__repr__`` masks them; no log event
carries one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import structlog
import yarl

from worker.cloud.signer import SDK_DATE_HEADER, sdk_date, sign
from worker.cloud.wire import answer_from_error, answer_from_response
from worker.engine.answer import Answer, AnswerKind

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch (``time.time``); injected so tests can move time."""

MASK = "***"
DEFAULT_TOKEN_LIFETIME_S = 24 * 3600.0  # what IAM documents, used when an answer omits expires_at
_log = structlog.get_logger()


class Authenticator(Protocol):
    """Signs requests in for the client; one instance serves the whole run."""

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: yarl.URL, body: bytes
    ) -> dict[str, str] | Answer:
        """The auth headers to add to this request, or a non-OK answer when signing in failed."""
        ...

    async def renew(self, session: aiohttp.ClientSession) -> bool | Answer:
        """After a rejection: True when a fresh credential is now in force (the transport sends again); False
        when there is none to get (the rejection stands); or the answer of a renewal that failed (a refused
        login is fatal; a transient one, such as IAM unavailable, is retried later instead of ending the
        run)."""
        ...


class TokenAuth:
    """A ready IAM token (``CSBS_AUTH_TOKEN``), sent as ``X-Auth-Token``; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"TokenAuth(token={MASK!r})"

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: yarl.URL, body: bytes
    ) -> dict[str, str] | Answer:
        """The token header."""
        return {"X-Auth-Token": self._token}

    async def renew(self, session: aiohttp.ClientSession) -> bool | Answer:
        """A given token has no successor: a 401 stays a 401."""
        return False


class PasswordAuth:
    """An IAM password login: the token is fetched once, cached, and renewed before it expires.

    Renewal happens ``renew_margin_s`` before ``expires_at``, or at half the token's lifetime when the
    lifetime is shorter than twice the margin. Concurrent callers share one login (``asyncio.Lock``):
    whoever waited on the lock while another login ran takes that login's outcome.

    Args:
        iam_endpoint: ``https://iam.{region}.myhuaweicloud.com`` (a trailing ``/v3`` is accepted).
        username, password, domain_name: the IAM user, its password and its account (domain).
        project_id: the project the token is scoped to.
        renew_margin_s: how long before expiry a token is replaced.
        clock: wall-clock seconds (``expires_at`` is a wall-clock time).
        on_token: told every token IAM issues, so the run can mask it wherever it might be echoed.
    """

    def __init__(
        self,
        iam_endpoint: str,
        username: str,
        password: str,
        domain_name: str,
        project_id: str,
        renew_margin_s: float = 300.0,
        clock: Clock = time.time,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self._tokens_url = _tokens_url(iam_endpoint)
        self._on_token = on_token
        self._username = username
        self._password = password
        self._domain_name = domain_name
        self._project_id = project_id
        self._renew_margin_s = renew_margin_s
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._logins = 0  # logins finished (either way); lets a waiter see that one ran meanwhile
        self._last_failure: Answer | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"PasswordAuth(iam={str(self._tokens_url)!r}, username={self._username!r}, "
            f"domain_name={self._domain_name!r}, password={MASK!r}, token={MASK if self._token else None!r})"
        )

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: yarl.URL, body: bytes
    ) -> dict[str, str] | Answer:
        """The cached token, after a login when there is none yet or it is about to expire."""
        seen = self._logins
        if not self._fresh():
            failure = await self._shared_login(session, seen, "expiring" if self._token else "initial")
            if failure is not None:
                return failure
        assert self._token is not None  # a successful login always sets it
        return {"X-Auth-Token": self._token}

    async def renew(self, session: aiohttp.ClientSession) -> bool | Answer:
        """Force one fresh login (shared with concurrent callers); True when it succeeded, else its answer."""
        failure = await self._shared_login(session, self._logins, "rejected")
        if failure is None:
            return True
        self._token = None  # the cloud refused it: later calls sign in again before they send
        return failure

    def _fresh(self) -> bool:
        """True while the cached token is not yet due for renewal."""
        return self._token is not None and self._clock() < self._renew_at

    async def _shared_login(self, session: aiohttp.ClientSession, seen: int, reason: str) -> Answer | None:
        """Log in, unless a login started after ``seen`` already ran: then take its outcome."""
        async with self._lock:
            if self._logins != seen:
                return self._last_failure
            self._last_failure = await self._login(session, reason)
            # Counted once finished, so that whoever read the count during this login shares its outcome.
            self._logins += 1
            return self._last_failure

    async def _login(self, session: aiohttp.ClientSession, reason: str) -> Answer | None:
        """One ``POST /v3/auth/tokens``; None on success, else the answer that refused it."""
        started = self._clock()
        try:
            async with session.post(self._tokens_url, json=self._login_body()) as response:
                token = response.headers.get("X-Subject-Token")
                if not 200 <= response.status < 300 or not token:
                    return self._failed(await _login_refusal(response, token))
                expires_at = _expires_at(await response.read(), started)
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._failed(answer_from_error(error))
        self._token = token
        if self._on_token is not None:
            self._on_token(token)
        self._renew_at = self._renewal_time(started, expires_at)
        _log.info(
            "auth_token_renewed",
            reason=reason,
            expires_at=datetime.fromtimestamp(expires_at, tz=UTC).isoformat(),
            renew_in_s=round(self._renew_at - started, 3),
        )
        return None

    def _renewal_time(self, issued_at: float, expires_at: float) -> float:
        """``renew_margin_s`` before expiry, or half-life when the lifetime is short."""
        lifetime = max(expires_at - issued_at, 0.0)
        return expires_at - min(self._renew_margin_s, lifetime / 2)

    def _failed(self, answer: Answer) -> Answer:
        """Log a refused login and make a non-retryable refusal fatal (credentials or account refused)."""
        if not answer.retryable:
            answer = dataclasses.replace(answer, kind=AnswerKind.FATAL)
        _log.warning("auth_login_failed", kind=str(answer.kind), **answer.log_fields())
        return answer

    def _login_body(self) -> dict[str, Any]:
        """The IAM password-login body, scoped to the project (``docs/csbs-api.md``, Authentication)."""
        user = {"name": self._username, "password": self._password, "domain": {"name": self._domain_name}}
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"id": self._project_id}},
            }
        }


class AkSkAuth:
    """AK/SK signing (``SDK-HMAC-SHA256``), with ``X-Project-Id`` and, for temporary keys, ``X-Security-Token``.

    A signature does not expire, so ``renew`` is False: a 401 means the keys are refused, and repeating
    it would only bring the five-failure lockout closer.
    """

    def __init__(
        self, ak: str, sk: str, project_id: str, security_token: str | None = None, clock: Clock = time.time
    ) -> None:
        self._ak = ak
        self._sk = sk
        self._project_id = project_id
        self._security_token = security_token
        self._clock = clock

    def __repr__(self) -> str:
        token = MASK if self._security_token else None
        return f"AkSkAuth(ak={MASK!r}, sk={MASK!r}, project_id={self._project_id!r}, security_token={token!r})"

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: yarl.URL, body: bytes
    ) -> dict[str, str] | Answer:
        """The signed headers; ``Host`` is among them so that what is sent is what was signed."""
        headers = {
            "Host": url.host_port_subcomponent or "",
            SDK_DATE_HEADER: sdk_date(self._clock()),
            "X-Project-Id": self._project_id,
        }
        if self._security_token:
            headers["X-Security-Token"] = self._security_token
        headers["Authorization"] = sign(method, str(url), headers, body, self._ak, self._sk)
        return headers

    async def renew(self, session: aiohttp.ClientSession) -> bool | Answer:
        """Keys cannot be renewed here."""
        return False


def _tokens_url(iam_endpoint: str) -> yarl.URL:
    """``{iam_endpoint}/v3/auth/tokens``, whether or not the endpoint already ends in ``/v3``."""
    base = iam_endpoint.rstrip("/")
    base = base.removesuffix("/v3")
    return yarl.URL(base + "/v3/auth/tokens")


async def _login_refusal(response: aiohttp.ClientResponse, token: str | None) -> Answer:
    """The answer for a login that brought no token."""
    answer = await answer_from_response(response)
    if answer.kind is AnswerKind.OK and not token:
        return dataclasses.replace(
            answer, kind=AnswerKind.FATAL, data=None, error_msg="IAM answered without X-Subject-Token"
        )
    return answer


def _expires_at(body: bytes, issued_at: float) -> float:
    """``token.expires_at`` as epoch seconds (UTC when no zone is given); 24 h when absent."""
    try:
        moment = datetime.fromisoformat(json.loads(body)["token"]["expires_at"])
    except (KeyError, TypeError, ValueError):
        return issued_at + DEFAULT_TOKEN_LIFETIME_S
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
