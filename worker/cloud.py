"""From settings to a ready CSBS client, and the first read that proves credentials and project work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import structlog

from worker.csbs import AkSkAuth, Answer, AnswerKind, Authenticator, CsbsClient, PasswordAuth, TokenAuth
from worker.errors import AbortError, ServiceError, SettingsError, UnreachableError
from worker.redact import Redactor
from worker.retry import RetryPolicy, call_with_retries
from worker.settings import AkSkCredentials, PasswordCredentials, Settings, TokenCredentials

log = structlog.get_logger()


def build_authenticator(settings: Settings, redactor: Redactor | None = None) -> Authenticator:
    """The sign-in method the settings hold (exactly one, checked by ``require_cloud``)."""
    credentials, project_id = settings.credentials, settings.project_id
    if credentials is None or project_id is None:
        raise SettingsError("no cloud configured: endpoint, project id and one sign-in method are needed")
    if isinstance(credentials, TokenCredentials):
        return TokenAuth(credentials.token.reveal())
    if isinstance(credentials, AkSkCredentials):
        security_token = credentials.security_token.reveal() if credentials.security_token else None
        return AkSkAuth(credentials.ak.reveal(), credentials.sk.reveal(), project_id, security_token)
    assert isinstance(credentials, PasswordCredentials)
    return PasswordAuth(credentials.iam_endpoint, credentials.username, credentials.password.reveal(),
                        credentials.domain_name, project_id, on_token=redactor.add if redactor else None)


def build_client(settings: Settings, redactor: Redactor | None = None) -> CsbsClient:
    """One client (one HTTP session, one rate limit) for the run; ``redactor`` learns every secret the
    sign-in holds or obtains, so none is ever logged or reported."""
    if redactor is not None:
        _register_secrets(settings, redactor)
    assert settings.endpoint is not None and settings.project_id is not None
    return CsbsClient(
        endpoint=settings.endpoint,
        project_id=settings.project_id,
        auth=build_authenticator(settings, redactor),
        provider_id=settings.provider_id,
        max_rps=settings.max_rps,
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s, sock_connect=min(10.0,
                                                                                   settings.request_timeout_s)),
        retry=RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s),
    )


def _register_secrets(settings: Settings, redactor: Redactor) -> None:
    credentials = settings.credentials
    if isinstance(credentials, TokenCredentials):
        redactor.add(credentials.token)
    elif isinstance(credentials, AkSkCredentials):
        redactor.add(credentials.sk)
        redactor.add(credentials.security_token)
    elif isinstance(credentials, PasswordCredentials):
        redactor.add(credentials.password)


def _log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
    log.warning("request_retry", call="preflight", attempt=attempt, delay_s=round(delay_s, 3),
                kind=str(answer.kind), **answer.log_fields())


def preflight_budget_s(settings: Settings) -> float:
    """How long the preflight may retry: one backoff cap plus one request timeout (two minutes by default)."""
    return settings.retry_cap_s + settings.request_timeout_s


async def preflight(probe: Callable[[], Awaitable[Answer]], retry: RetryPolicy, budget_s: float, endpoint: str,
                    api: str = "CSBS") -> None:
    """One read before any DELETE that proves the endpoint, credentials and project work (docs/design.md,
    "Preflight").

    Raises ``AbortError`` (exit 3) for refused credentials, permission or project, and for an endpoint that
    answers but serves no API of the service there (a gateway 404: docs/csbs-api.md, Errors); ``UnreachableError``
    (exit 1) when no usable answer came within ``budget_s``, retries included. ``probe`` is the read
    (CSBS: the backup count; CBR: one vault), ``api`` the service's name in messages.
    """
    deadline = asyncio.get_running_loop().time() + budget_s
    # A gateway 404 is retried mid-run, but here it ends the run at once.
    answer, _ = await call_with_retries(probe, retry, deadline=deadline, on_retry=_log_retry,
                                        stop_on=lambda answer: answer.kind is AnswerKind.NO_SERVICE)
    if answer.kind is AnswerKind.OK:
        log.info("preflight_ok", service=api.lower(), request_id=answer.request_id,
                 **({"backups_in_project": answer.data} if api == "CSBS" else {}))
        return
    detail = (f"HTTP {answer.status or '-'} {answer.error_code or '-'}: {answer.error_msg or 'no message'} "
              f"(request id {answer.request_id})")
    if answer.kind is AnswerKind.NO_SERVICE:
        raise AbortError(f"the endpoint {endpoint} serves no {api} API there ({detail}); check CSBS_ENDPOINT "
                         f"(https://{api.lower()}.{{region}}.myhuaweicloud.com, no path)")
    if answer.kind is AnswerKind.FATAL:
        raise AbortError(f"the cloud refused the run: {detail}")
    if answer.retryable:
        raise UnreachableError(f"cannot reach the {api} API at {endpoint} within {budget_s:g} s; last error: "
                               f"{detail}")
    raise ServiceError(f"the {api} API at {endpoint} refused the first read: {detail}")

