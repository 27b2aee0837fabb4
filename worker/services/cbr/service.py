"""CBR as a service of the run: backups in vaults under ``/v3/{project_id}`` (docs/cbr-api.md)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

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
from worker.services.cbr.client import CbrClient
from worker.services.cbr.entries import ENTRIES
from worker.services.cbr.planning import plan_cbr
from worker.services.cbr.rules import CbrRules
from worker.services.service import CloudSession, SessionBase
from worker.settings import Settings

DELETING_STATUSES = ["waiting_delete", "deleting"]


class CbrService:
    """CBR: what differs from any other service, for the run."""

    name = ENTRIES.service
    entries = ENTRIES
    id_keys = ("vault_id", "backup_id")  # Task.container_id holds the plan's vault ("" when it gives none)

    def log_ids(self, spec: TaskSpec) -> dict[str, str | None]:
        return {"backup_id": spec.backup_id, "vault_id": spec.container_id or None}

    @contextlib.asynccontextmanager
    async def open(self, settings: Settings, redactor: Redactor,
                   throttler: Throttler | None = None) -> AsyncIterator[CloudSession]:
        async with CbrClient(**client_options(settings, redactor, throttler)) as client:
            yield CbrSession(client, settings)


class CbrSession(SessionBase[CbrClient]):
    """One run's CBR client, and what the run asks of it."""

    async def preflight(self, budget_s: float) -> None:
        await preflight(self.client.check_credentials, self.client.retry, budget_s, self.endpoint,
                        api="CBR")

    async def in_progress(self, plan: Sequence[Task], deadline: float) -> InProgress:
        answer = await self.client.list_backups(deadline=deadline, status=DELETING_STATUSES)
        if answer.kind is not AnswerKind.OK:
            return skipped(answer)
        # What holds a CBR backup is its vault (as in the plan and the logs), not its restore point.
        return matched(plan, [(str(backup.get("id")), str(backup.get("vault_id") or ""))
                              for backup in answer.data if not backup.get("parent_id")])

    def rules(self, planned: PlannedIdentities | None = None) -> CbrRules:
        return CbrRules(self.client, planned)

    async def plan_from_policy(self, policy: Policy, explain: str | None,
                               approving: Approving | None = None) -> tuple[list[Task], str]:
        return await plan_cbr(self.client, self.settings, policy, explain, approving)

    async def dry_run_line(self, task: Task, deadline: float) -> str:
        return f"{task.backup_id}" + (f"  # vault {task.container_id}" if task.container_id else "")


SERVICE = CbrService()
