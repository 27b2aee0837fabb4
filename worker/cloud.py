"""From settings to a ready CSBS client, and the first read that proves credentials and project work."""

from __future__ import annotations

import asyncio

import aiohttp
import structlog

from worker.csbs import AkSkAuth, Answer, AnswerKind, Authenticator, CsbsClient, PasswordAuth, TokenAuth
from worker.errors import AbortError, SettingsError
from worker.retry import RetryPolicy, call_with_retries
from worker.settings import AkSkCredentials, PasswordCredentials, Settings, TokenCredentials

log = structlog.get_logger()


def build_authenticator(settings: Settings) -> Authenticator:
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
                        credentials.domain_name, project_id)


def build_client(settings: Settings) -> CsbsClient:
    """One client (one HTTP session, one rate limit) for the run."""
    assert settings.endpoint is not None and settings.project_id is not None
    return CsbsClient(
        endpoint=settings.endpoint,
        project_id=settings.project_id,
        auth=build_authenticator(settings),
        provider_id=settings.provider_id,
        max_rps=settings.max_rps,
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s, sock_connect=min(10.0,
                                                                                   settings.request_timeout_s)),
        retry=RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s),
    )


def _log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
    log.warning("request_retry", call="preflight", attempt=attempt, delay_s=round(delay_s, 3),
                kind=str(answer.kind), **answer.log_fields())


async def preflight(client: CsbsClient, budget_s: float = 120.0) -> None:
    """One read before any DELETE: refused credentials, permission or project abort here (exit 3).

    A service that stays unavailable is only logged: every task retries within its own time.
    """
    deadline = asyncio.get_running_loop().time() + budget_s
    answer, _ = await call_with_retries(client.count_items, client.retry, deadline=deadline, on_retry=_log_retry)
    if answer.kind is AnswerKind.FATAL:
        raise AbortError(f"the cloud refused the run: HTTP {answer.status} {answer.error_code or '-'}: "
                         f"{answer.error_msg or 'no message'} (request id {answer.request_id})")
    if answer.kind is AnswerKind.OK:
        log.info("preflight_ok", backups_in_project=answer.data, request_id=answer.request_id)
    else:
        log.warning("preflight_failed", **answer.log_fields())
