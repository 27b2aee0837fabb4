"""From settings to a service client's sign-in, rate limit and timeouts (every service's client takes these)."""

from __future__ import annotations

from typing import Any

import aiohttp
from asyncio_throttle.throttler import Throttler

from worker.cloud.auth import AkSkAuth, Authenticator, PasswordAuth, TokenAuth
from worker.engine.retry import RetryPolicy
from worker.errors import SettingsError
from worker.redact import Redactor
from worker.settings import AkSkCredentials, PasswordCredentials, Settings, TokenCredentials


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


def client_options(settings: Settings, redactor: Redactor | None = None,
                   throttler: Throttler | None = None) -> dict[str, Any]:
    """The keywords every service's client takes, from the settings: one HTTP session and one rate limit for
    the run (``throttler``: a limit shared with other clients, a fleet user's); ``redactor`` learns the
    settings' secrets and every token the sign-in obtains, so none is ever logged or reported."""
    assert settings.endpoint is not None and settings.project_id is not None
    if redactor is not None:
        register_secrets(settings, redactor)
    return {
        "endpoint": settings.endpoint,
        "project_id": settings.project_id,
        "auth": build_authenticator(settings, redactor),
        "max_rps": settings.max_rps,
        "timeout": aiohttp.ClientTimeout(total=settings.request_timeout_s,
                                         sock_connect=min(10.0, settings.request_timeout_s)),
        "retry": RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s),
        "throttler": throttler,
    }


def register_secrets(settings: Settings, redactor: Redactor) -> None:
    """Teach ``redactor`` the secrets the settings hold."""
    credentials = settings.credentials
    if isinstance(credentials, TokenCredentials):
        redactor.add(credentials.token)
    elif isinstance(credentials, AkSkCredentials):
        redactor.add(credentials.sk)
        redactor.add(credentials.security_token)
    elif isinstance(credentials, PasswordCredentials):
        redactor.add(credentials.password)
