"""CSBS as a service of the run: records and their backups under ``/v1/{project_id}`` (docs/csbs-api.md)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import structlog
from asyncio_throttle.throttler import Throttler

from worker.cloud.setup import client_options
from worker.engine.adoption import InProgress, matched, skipped
from worker.engine.answer import AnswerKind
from worker.engine.identity import PlannedIdentities
from worker.engine.preflight import preflight
from worker.engine.tracking import TaskSpec
from worker.plan import Task
from worker.plan.approval import Approving
from worker.redact import Redactor
from worker.retention.policy import Policy
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.entries import ENTRIES
from worker.services.csbs.planning import plan_csbs
from worker.services.csbs.rules import CsbsRules
from worker.services.service import CloudSession, SessionBase
from worker.settings import Settings

log = structlog.get_logger()

DELETING_STATUSES = ("waiting_delete", "deleting")


class CsbsService:
    """CSBS: what differs from any other service, for the run."""

    name = ENTRIES.service
    entries = ENTRIES
    id_keys = ("checkpoint_id", "checkpoint_item")

    def log_ids(self, spec: TaskSpec) -> dict[str, str | None]:
        return {"checkpoint_id": spec.container_id, "checkpoint_item": spec.backup_id}

    @contextlib.asynccontextmanager
    async def open(self, settings: Settings, redactor: Redactor,
                   throttler: Throttler | None = None) -> AsyncIterator[CloudSession]:
        options = client_options(settings, redactor, throttler)
        async with CsbsClient(provider_id=settings.provider_id, **options) as client:
            yield CsbsSession(client, settings)


class CsbsSession(SessionBase[CsbsClient]):
    """One run's CSBS client, and what the run asks of it."""

    async def preflight(self, budget_s: float) -> None:
        await preflight(self.client.count_items, self.client.retry, budget_s, self.endpoint,
                        api="CSBS", count_key="backups_in_project")

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress:
        """List the backups being deleted (one listing per status, all pages) and match them to the plan."""
        deleting: list[tuple[str, str]] = []
        for status in DELETING_STATUSES:
            answer = await self.client.list_items(deadline=deadline, status=status)
            if answer.kind is not AnswerKind.OK:
                return skipped(answer, status=status)
            deleting.extend((str(item.get("id")), str(item.get("checkpoint_id"))) for item in answer.data)
        return matched(plan, deleting)

    def rules(self, planned: PlannedIdentities | None = None) -> CsbsRules:
        return CsbsRules(self.client, planned)

    async def plan_from_policy(self, policy: Policy, explain: str | None,
                               approving: Approving | None = None) -> tuple[list[Task], str]:
        return await plan_csbs(self.client, self.settings, policy, explain, approving)

    async def dry_run_line(self, task: Task, deadline: float) -> str:
        if task.backup_id is not None:
            return f"{task.container_id} {task.backup_id}"
        answer = await self.client.list_items(deadline=deadline, checkpoint_id=task.container_id)
        items = answer.data if answer.kind is AnswerKind.OK else None
        note = f"{len(items)} backups" if items else ("absent" if items == [] else "could not be listed")
        log.info("dry_run_record", checkpoint_id=task.container_id, backups=len(items) if items else 0)
        return f"{task.container_id}  # whole record: {note}"


SERVICE = CsbsService()
