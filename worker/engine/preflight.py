"""The preflight: one read before any DELETE that proves the endpoint, credentials and project work
(docs/design.md, "Preflight"). The service gives the read; the verdict is the same for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from worker.engine.answer import Answer, AnswerKind, refuses_signin
from worker.engine.retry import RetryPolicy, call_with_retries
from worker.errors import AbortError, ServiceError, SigninRefusedError, UnreachableError

log = structlog.get_logger()


def _log_retry(answer: Answer, attempt: int, delay_s: float) -> None:
    log.warning("request_retry", call="preflight", attempt=attempt, delay_s=round(delay_s, 3),
                kind=str(answer.kind), **answer.log_fields())


async def preflight(probe: Callable[[], Awaitable[Answer]], retry: RetryPolicy, budget_s: float, endpoint: str,
                    api: str, count_key: str | None = None) -> None:
    """One read before any DELETE that proves the endpoint, credentials and project work (docs/design.md,
    "Preflight").

    Raises ``AbortError`` (exit 3) for refused credentials, permission or project, and for an endpoint that
    answers but serves no API of the service there (a gateway 404: docs/csbs-api.md, Errors); ``UnreachableError``
    (exit 1) when no usable answer came within ``budget_s``, retries included. ``probe`` is the read
    (CSBS: the backup count; CBR: one vault), ``api`` the service's name in messages; ``count_key`` names the
    probe's answer in ``preflight_ok`` when it is a count.
    """
    deadline = asyncio.get_running_loop().time() + budget_s
    # A gateway 404 is retried mid-run, but here it ends the run at once.
    answer, _ = await call_with_retries(probe, retry, deadline=deadline, on_retry=_log_retry,
                                        stop_on=lambda answer: answer.kind is AnswerKind.NO_SERVICE)
    if answer.kind is AnswerKind.OK:
        log.info("preflight_ok", service=api.lower(), request_id=answer.request_id,
                 **({count_key: answer.data} if count_key else {}))
        return
    detail = (f"HTTP {answer.status or '-'} {answer.error_code or '-'}: {answer.error_msg or 'no message'} "
              f"(request id {answer.request_id})")
    if answer.kind is AnswerKind.NO_SERVICE:
        raise AbortError(f"the endpoint {endpoint} serves no {api} API there ({detail}); check CSBS_ENDPOINT "
                         f"(https://{api.lower()}.{{region}}.myhuaweicloud.com, no path)")
    if answer.kind is AnswerKind.FATAL:
        refused = SigninRefusedError if refuses_signin(answer) else AbortError
        raise refused(f"the cloud refused the run: {detail}")
    if answer.retryable:
        raise UnreachableError(f"cannot reach the {api} API at {endpoint} within {budget_s:g} s; last error: "
                               f"{detail}")
    raise ServiceError(f"the {api} API at {endpoint} refused the first read: {detail}")

