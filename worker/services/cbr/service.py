"""CBR as a service of the run: backups in vaults under ``/v3/{project_id}`` (docs/cbr-api.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

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
from worker.services.cbr.planning import cbr_plan_document, decide_cbr, own_backups, render_cbr_plan_yaml
from worker.services.cbr.rules import CONTAINER_KEY, CbrRules
from worker.services.identity import approval_rows
from worker.services.planning import applied, listed
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
    async def open(self, settings: Settings, redactor: Redactor) -> AsyncIterator[CloudSession]:
        async with CbrClient(**client_options(settings, redactor)) as client:
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
        settings = self.settings
        assert settings.project_id is not None
        deadline = asyncio.get_running_loop().time() + settings.task_timeout_s
        backups = listed(await self.client.list_backups(deadline=deadline), "backups")
        vaults = listed(await self.client.list_vaults(deadline=deadline), "vaults")
        own = own_backups(backups, vaults, settings.project_id)
        decisions = await applied(policy, explain, lambda: decide_cbr(own, policy, datetime.now(UTC)))
        deletions = cbr_plan_document(decisions, None)["deletions"]
        tasks = [Task(entry["vault_id"], entry["backup_id"], policy.source, None) for entry in deletions]
        if approving is None:
            return tasks, render_cbr_plan_yaml(decisions, settings.project_id)
        planned, kept = approval_rows(decisions, CONTAINER_KEY, lambda _: None)  # CBR reports no backup size
        return tasks, approving.render(cbr_plan_document(decisions, settings.project_id), settings.service,
                                       planned, kept)

    async def dry_run_line(self, task: Task, deadline: float) -> str:
        return f"{task.backup_id}" + (f"  # vault {task.container_id}" if task.container_id else "")


SERVICE = CbrService()
