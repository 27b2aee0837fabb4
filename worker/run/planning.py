"""CSBS plans from a retention policy: the listing and the decisions ``plan`` prints and ``delete --policy`` runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog

from worker.csbs import Answer, AnswerKind, CsbsClient
from worker.errors import AbortError, ServiceError, UsageError
from worker.plan import Task
from worker.policy import Policy
from worker.retention import (
    Decision,
    check_max_deletions,
    decide,
    explain_records,
    plan_document,
)
from worker.settings import Settings

log = structlog.get_logger()


async def plan_from_policy(client: CsbsClient, settings: Settings, policy: Policy,
                           explain: str | None) -> tuple[list[Task], list[Decision]]:
    """List every backup of the project, decide, write ``--explain``, and return the deletion tasks.

    The listing may take as long as one task (``task_timeout``), retrying throttled and transient pages.
    """
    if policy.select.uses_vaults:
        raise UsageError(f"{policy.source}: select.vault_ids and select.vault_names apply to CBR backups; "
                         "run with --service cbr, or drop them for CSBS")
    deadline = asyncio.get_running_loop().time() + settings.task_timeout_s
    backups = listed(await client.list_items(deadline=deadline), "backups")
    decisions = await applied(policy, explain, lambda: decide(backups, policy))
    document = plan_document(decisions, settings.project_id)
    tasks = [Task(entry["checkpoint_id"], item, policy.source, None)
             for entry in document["deletions"] for item in entry["checkpoint_items"]]
    return tasks, decisions


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

