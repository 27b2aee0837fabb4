"""How the engine's task loop sends, looks and reads for CBR (``docs/cbr-api.md``; docs/design.md, "CBR").

A task is one backup (``item_id``; ``checkpoint_id`` is its vault, when the plan names one). What CBR adds to
the loop:

- The end is a GONE answer: 404 ``BackupService.6200`` (or the other gone codes, or the 401 "Malformed
  request url" the client has confirmed). A gateway 404 is NO_SERVICE: retried within the task's time.
- A plan that names the vault is checked with one look before the DELETE: a backup in another vault is
  ``failed`` (``vault_mismatch``) and nothing is sent. For an approvable plan, one listing per resource
  (``worker.services.identity``) serves that check instead, and checks that the backup is still the one
  planned (``worker.engine.identity``): one that changed is not sent.
- The capped busy answers (``answers.busy_limit``: 6201, 6112) fail the task once a code came more often
  than its cap. A 403 DELETE for a backup that a look shows is another project's (shared in, point 9)
  fails that task alone; any other 403 aborts the run.
- There is no ``fail_op`` (point 5): a deletion that failed shows only as the backup back in ``available``
  or in ``error``. The loop re-sends it at most ``MAX_RESENDS`` times; before each re-send the ``delete``
  operation logs of the backup's vault are read (point 7): a ``failed``/``timeout`` log of this backup
  since our first DELETE fails the task at once with its ``error_info``, unless its code is one the
  errors table says to try again (6201): while the backup is there to delete, that is sent again, and the
  log's code and message are the task's only once the cap is reached. A listing that fails, or finds
  nothing, gives no verdict.
- The sweep lists the backups in ``waiting_delete`` and ``deleting`` (``status`` repeats, one listing).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import structlog

from worker.engine.answer import Answer, AnswerKind
from worker.engine.before_send import look_ending, unchanged
from worker.engine.identity import Identity, PlannedIdentities
from worker.engine.outcomes import Outcome, TaskEnd
from worker.engine.sighting import Seen, Sighting
from worker.engine.tracking import BaseRules, Ending, TaskSpec, TaskState, Verdict, end_task
from worker.services.cbr.answers import BUSY_LIMITS, busy_limit, full_code
from worker.services.cbr.client import CbrClient
from worker.services.cbr.observe import read_backup, read_delete_log
from worker.services.identity import ResourceListings, read_identity

log = structlog.get_logger()

MAX_RESENDS = 3
"""Re-sends of an accepted DELETE whose deletion fell back (``available``/``error``) before the task fails."""
CONTAINER_KEY = "vault_id"  # what holds a CBR backup, as the plan and the logs name it
LOG_SLACK_S = 2.0
"""Operation logs created this long before our first DELETE (server time) still count as ours: the ``Date``
header is whole seconds, and a log is written before the answer goes out."""


class CbrRules(BaseRules):
    """The CBR calls, readings and checks of one run's tasks."""

    max_resends: int | None = MAX_RESENDS
    sweep_covers = frozenset({Seen.QUEUED, Seen.RUNNING})

    def __init__(self, client: CbrClient, planned: PlannedIdentities | None = None) -> None:
        self.client = client
        self.planned = planned  # an approvable plan's identities: each backup is checked before its DELETE
        self.listings = ResourceListings(self._list_resource, CONTAINER_KEY)

    async def send(self, spec: TaskSpec) -> Answer:
        return await self.client.delete_backup(backup_id(spec))

    async def look(self, spec: TaskSpec, deadline: float) -> Answer:
        return await self.client.get_backup(backup_id(spec))

    def read(self, spec: TaskSpec, data: Any) -> Sighting:
        return read_backup(data)

    def busy_cap(self, answer: Answer) -> tuple[str, int] | None:
        limit = busy_limit(answer)
        return None if limit is None else (full_code(answer.error_code) or "", limit)

    async def before_first_send(self, task: TaskState) -> Ending | None:
        """The plan named the backup's vault, or recorded its identity (an approvable plan): refuse a backup in
        another vault, or one that is not the backup planned, before the DELETE."""
        expected = task.spec.container_id
        planned = self.planned.of_backup(backup_id(task.spec)) if self.planned is not None else None
        if planned is not None:
            return await self._unchanged(task, planned, expected)
        if not expected:
            return None
        answer = await self._look(task)
        if answer.kind is not AnswerKind.OK:  # no verdict on the vault: the DELETE and its answer decide
            return look_ending(task, answer, required=False)
        return self._in_vault(task, str(answer.data.get("vault_id") or ""), expected)

    async def _unchanged(self, task: TaskState, planned: Identity, expected: str) -> Ending | None:
        """An approvable plan's check, from the listing of the planned resource's backups (one per resource, not
        a look per task); a backup it does not show (gone, or of another resource now) is looked at."""
        seen = await self.listings.identity(planned.resource_id, backup_id(task.spec), task.deadline)
        if seen is None:
            answer = await self._look(task)
            if answer.kind is not AnswerKind.OK:
                return look_ending(task, answer, required=True)
            seen = read_identity(answer.data, CONTAINER_KEY)
        return self._in_vault(task, seen.container_id, expected) or unchanged(task, planned, seen)

    @staticmethod
    def _in_vault(task: TaskState, actual: str, expected: str) -> TaskEnd | None:
        """A backup in another vault than the plan's is not sent; else the task knows its vault (``where``)."""
        if expected and actual.lower() != expected.lower():
            return end_task(task.trace, Outcome.FAILED, code="vault_mismatch", message=(
                f"the backup is in vault {actual or '(none)'}, not in the plan's vault {expected}; nothing was sent"))
        task.where = actual
        return None

    async def refused(self, task: TaskState, answer: Answer) -> TaskEnd | None:
        """Point 9: a 403 for a backup shared in from another project fails this task, not the run."""
        if answer.status != 403:
            return None
        look = await self._look(task)
        owner = look.data.get("project_id") if look.kind is AnswerKind.OK else None
        if not isinstance(owner, str) or not owner or owner.lower() == self.client.project_url.name.lower():
            return None  # the credentials' own 403: the run aborts
        return end_task(task.trace, Outcome.FAILED, answer, message=(
            f"the backup is shared in from project {owner}, not this project's own: "
            f"{answer.error_msg or 'access denied'}"))

    async def verdict(self, task: TaskState, deadline: float) -> Verdict | None:
        """The newest ``delete`` log of the backup since our first DELETE, when it says failed (point 7)."""
        if task.where is None or task.sent_at_server is None:
            return None
        since = datetime.fromtimestamp(task.sent_at_server - LOG_SLACK_S, UTC)
        answer = await self.client.list_operation_logs(
            deadline=deadline, operation_type="delete", vault_id=task.where,
            start_time=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if answer.kind is not AnswerKind.OK or not isinstance(answer.data, list):
            if "oplog_unread" not in task.logged:
                task.logged.add("oplog_unread")
                log.info("task_oplog_unread", detail="no operation-log verdict: followed by status only",
                         kind=str(answer.kind), **answer.log_fields())
            return None
        found = read_delete_log(answer.data, backup_id(task.spec), since=since)
        if found is None or not found.failed:
            return None
        return Verdict(found.error_code or "delete_failed",
                       found.error_message or f"the delete operation log says {found.status}",
                       final=full_code(found.error_code) not in BUSY_LIMITS)  # 6201: "try again"

    async def sweep(self, deadline: float) -> Answer:
        """The backups waiting to be deleted or being deleted, by id."""
        answer = await self.client.list_backups(deadline=deadline, status=["waiting_delete", "deleting"])
        if answer.kind is not AnswerKind.OK:
            return answer
        return dataclasses.replace(answer, data={str(b.get("id")): read_backup(b) for b in answer.data})

    async def _list_resource(self, resource_id: str, deadline: float) -> Answer:
        return await self.client.list_backups(deadline=deadline, resource_id=resource_id)

    async def _look(self, task: TaskState) -> Answer:
        async def look() -> Answer:
            task.trace.polls += 1
            return await self.client.get_backup(backup_id(task.spec))

        return await task.retried(look)


def backup_id(spec: TaskSpec) -> str:
    if not spec.backup_id:
        raise ValueError(f"a CBR task needs its backup id as item_id (task {spec.container_id})")
    return spec.backup_id
