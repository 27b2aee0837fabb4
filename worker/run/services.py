"""The two services a run can talk to, behind one face: CSBS (``/v1``) and CBR (``/v3``).

A run opens a ``CloudSession`` for ``settings.service`` and asks it for everything that differs between the
services: the client, the preflight's probe, the deletions already in progress, the task runner, the
planner's listing and its plan, the dry run's line for a task, and the names of a task's ids in the logs and
the report. Slots, outcomes, logs, report, metrics and exit codes are the same for both (docs/design.md,
"CBR").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

import aiohttp
import structlog

from worker.adoption import InProgress, find_in_progress, matched, skipped
from worker.cbr.client import CbrClient
from worker.cbr.planning import cbr_plan_document, decide_cbr, own_backups, render_cbr_plan_yaml
from worker.cbr.tracking import CbrTaskRunner
from worker.clock import Clock
from worker.cloud import build_authenticator, build_client, preflight
from worker.csbs import AnswerKind, CsbsClient
from worker.plan import Task
from worker.policy import Policy
from worker.redact import Redactor
from worker.retention import render_plan_yaml
from worker.retry import RetryPolicy
from worker.run.planning import applied, listed, plan_from_policy
from worker.scheduler import Runner
from worker.settings import Settings
from worker.tracking import TaskRunner, TaskSpec, TrackingPolicy

log = structlog.get_logger()

CBR_DELETING = ["waiting_delete", "deleting"]


class CloudSession(Protocol):
    """What a run asks of the service it talks to, over one open client."""

    @property
    def calls(self) -> Mapping[str, int]: ...

    @property
    def retry(self) -> RetryPolicy: ...

    async def preflight(self, budget_s: float) -> None: ...

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress: ...

    def runner(self, policy: TrackingPolicy, clock: Clock) -> Runner: ...

    async def plan_from_policy(self, policy: Policy, explain: str | None) -> tuple[list[Task], str]: ...

    async def dry_run_line(self, task: Task, deadline: float) -> str: ...


def log_ids(service: str, spec: TaskSpec) -> dict[str, str | None]:
    """The ids a task's log lines carry: the CSBS record and backup, or the CBR backup and its vault."""
    if service == "cbr":
        return {"backup_id": spec.item_id, "vault_id": spec.checkpoint_id or None}
    return {"checkpoint_id": spec.checkpoint_id, "checkpoint_item": spec.item_id}


@contextlib.asynccontextmanager
async def open_session(settings: Settings, redactor: Redactor) -> AsyncIterator[CloudSession]:
    """The session of ``settings.service``, its client open for the block."""
    if settings.service == "cbr":
        async with _cbr_client(settings, redactor) as cbr:
            yield CbrSession(cbr, settings)
        return
    async with build_client(settings, redactor) as csbs:
        yield CsbsSession(csbs, settings)


def _cbr_client(settings: Settings, redactor: Redactor) -> CbrClient:
    assert settings.endpoint is not None and settings.project_id is not None
    return CbrClient(
        endpoint=settings.endpoint, project_id=settings.project_id, auth=build_authenticator(settings, redactor),
        max_rps=settings.max_rps, retry=RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s),
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s,
                                      sock_connect=min(10.0, settings.request_timeout_s)))


class _Client(Protocol):
    calls: Counter[str]
    retry: RetryPolicy


C = TypeVar("C", bound=_Client)


class _Session(Generic[C]):
    """What both sessions hold: the open client and the settings."""

    def __init__(self, client: C, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @property
    def calls(self) -> Mapping[str, int]:
        return self.client.calls

    @property
    def retry(self) -> RetryPolicy:
        return self.client.retry


class CsbsSession(_Session[CsbsClient]):
    """CSBS: records and their backups under ``/v1/{project_id}``."""

    async def preflight(self, budget_s: float) -> None:
        assert self.settings.endpoint is not None
        await preflight(self.client.count_items, self.client.retry, budget_s, self.settings.endpoint)

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress:
        return await find_in_progress(self.client, plan, deadline)

    def runner(self, policy: TrackingPolicy, clock: Clock) -> Runner:
        return TaskRunner(self.client, policy, clock)

    async def plan_from_policy(self, policy: Policy, explain: str | None) -> tuple[list[Task], str]:
        tasks, decisions = await plan_from_policy(self.client, self.settings, policy, explain)
        return tasks, render_plan_yaml(decisions, self.settings.project_id)

    async def dry_run_line(self, task: Task, deadline: float) -> str:
        if task.item_id is not None:
            return f"{task.checkpoint_id} {task.item_id}"
        answer = await self.client.list_items(deadline=deadline, checkpoint_id=task.checkpoint_id)
        items = answer.data if answer.kind is AnswerKind.OK else None
        note = f"{len(items)} backups" if items else ("absent" if items == [] else "could not be listed")
        log.info("dry_run_record", checkpoint_id=task.checkpoint_id, backups=len(items) if items else 0)
        return f"{task.checkpoint_id}  # whole record: {note}"


class CbrSession(_Session[CbrClient]):
    """CBR: backups (in vaults) under ``/v3/{project_id}``."""

    async def preflight(self, budget_s: float) -> None:
        assert self.settings.endpoint is not None
        await preflight(self.client.check_credentials, self.client.retry, budget_s, self.settings.endpoint,
                        api="CBR")

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress:
        answer = await self.client.list_backups(deadline=deadline, status=CBR_DELETING)
        if answer.kind is not AnswerKind.OK:
            return skipped(answer)
        # A CBR task's "record" is the backup's vault (as in the plan and the logs), not its restore point.
        return matched(plan, [{"id": backup.get("id"), "checkpoint_id": backup.get("vault_id") or ""}
                              for backup in answer.data if not backup.get("parent_id")])

    def runner(self, policy: TrackingPolicy, clock: Clock) -> Runner:
        return CbrTaskRunner(self.client, policy, clock)

    async def plan_from_policy(self, policy: Policy, explain: str | None) -> tuple[list[Task], str]:
        settings = self.settings
        assert settings.project_id is not None
        deadline = asyncio.get_running_loop().time() + settings.task_timeout_s
        backups = listed(await self.client.list_backups(deadline=deadline), "backups")
        vaults = listed(await self.client.list_vaults(deadline=deadline), "vaults")
        own = own_backups(backups, vaults, settings.project_id)
        decisions = await applied(policy, explain, lambda: decide_cbr(own, policy, datetime.now(UTC)))
        deletions = cbr_plan_document(decisions, None)["deletions"]
        tasks = [Task(entry["vault_id"], entry["backup_id"], policy.source, None) for entry in deletions]
        return tasks, render_cbr_plan_yaml(decisions, settings.project_id)

    async def dry_run_line(self, task: Task, deadline: float) -> str:
        return f"{task.item_id}" + (f"  # vault {task.checkpoint_id}" if task.checkpoint_id else "")
