"""What every service's planner shares: a listing it cannot go without, and the policy applied to it
(``--explain``, ``max_deletions``, the ``policy_applied`` event)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog

from worker.engine.answer import Answer, AnswerKind
from worker.errors import AbortError, ServiceError, UsageError
from worker.retention.policy import Policy
from worker.retention.rules import (
    Decision,
    check_max_deletions,
    explain_records,
)

log = structlog.get_logger()


def listed(answer: Answer, what: str) -> list[dict[str, Any]]:
    """The items of a listing the planner cannot go without; refused is exit 3, failing is exit 1."""
    if answer.kind is AnswerKind.OK:
        return list(answer.data)
    if answer.kind is AnswerKind.FATAL:
        raise AbortError(f"listing the {what} was refused: HTTP {answer.status} {answer.error_code}")
    raise ServiceError(f"cannot list the project's {what}: HTTP {answer.status} {answer.error_code} "
                       f"{answer.error_msg} (request id {answer.request_id})")


async def applied(policy: Policy, explain: str | None, deciding: Callable[[], list[Decision]]) -> list[Decision]:
    """Decide (any service), write ``--explain``, refuse a plan above ``max_deletions``, log the counts."""
    try:
        decisions = deciding()
    except ValueError as error:  # a backup the service described in a way the planner cannot read
        raise UsageError(f"cannot apply {policy.source} to the listed backups: {error}") from None
    if explain:
        await asyncio.to_thread(write_json, explain, explain_records(decisions))
    doomed = check_max_deletions(decisions, policy)
    log.info("policy_applied", policy=policy.source, governed=len(decisions), keep=len(decisions) - doomed,
             delete=doomed, timezone=str(policy.timezone))
    return decisions


def write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)

