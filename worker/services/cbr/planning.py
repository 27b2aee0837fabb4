"""Retention for CBR backups: the same keep rules as for CSBS (``worker.retention.rules``), on what CBR lists.

What differs (docs/cbr-api.md, Objects and silent points 8-10):

* A server backup's per-disk ``children`` (``parent_id`` set) go with their parent: they are never
  decided on or planned on their own.
* Shared-in backups (another project's, listed only with ``own_type`` shared) are never the worker's to
  delete: the listing asks for the project's own (``own_type=private``, the default), and anything of another
  project that still shows up is left out.
* Automatic backups (``extend_info.auto_trigger``) in a vault with ``locked: true`` cannot be deleted before
  their ``expired_at`` (``BackupService.6220``): they count for the rules like any backup, and one the rules
  would delete is kept instead, with the reason ``locked vault until <expired_at>``.
* Each backup carries its vault's name (``vault_name``), so a policy can ``select`` by vault id or name (the
  name is how CSBS backups migrated to CBR are found: the old policy's name, or ``default``).

The plan names each backup with its vault: ``{backup_id, vault_id}``, oldest first, under ``service: cbr``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from worker.cloud.fields import read_datetime as parse_time
from worker.cloud.paging import Row
from worker.plan import Task
from worker.plan.approval import Approving
from worker.retention.listed import ListedBackup
from worker.retention.plan_yaml import dump_plan
from worker.retention.policy import Policy
from worker.retention.rules import Decision, decide_listed, oldest_first
from worker.services.cbr.client import CbrClient
from worker.services.cbr.rules import CONTAINER_KEY
from worker.services.identity import approval_rows
from worker.services.planning import GovernedBackups, applied, collector_paused, whole_listing
from worker.settings import Settings

SERVICE = "cbr"


async def plan_cbr(client: CbrClient, settings: Settings, policy: Policy, explain: str | None,
                   approving: Approving | None = None) -> tuple[list[Task], str]:
    """List the project's vaults and backups (each whole, or no plan), decide, write ``--explain``, and return
    the deletion tasks and the plan's YAML (an approvable plan's with ``approving``: docs/plans.md). The
    listings may take as long as one task (``task_timeout``)."""
    assert settings.project_id is not None
    deadline = asyncio.get_running_loop().time() + settings.task_timeout_s
    vaults: list[Row] = []
    with collector_paused():
        await whole_listing(lambda into: client.walk_vaults(into, deadline=deadline), vaults, "vaults")
        own = OwnBackups(policy, vaults, settings.project_id, datetime.now(UTC))
        await whole_listing(lambda into: client.walk_backups(into, deadline=deadline), own, "backups")
        decisions = await applied(policy, explain, decide_cbr(own, policy))
        document = cbr_plan_document(decisions, settings.project_id)
        tasks = [Task(entry["vault_id"], entry["backup_id"], policy.source, None) for entry in document["deletions"]]
        if approving is not None:
            planned, kept = approval_rows(decisions, CONTAINER_KEY)  # CBR reports no backup size
            return tasks, approving.render(document, settings.service, planned, kept)
        return tasks, render_cbr_plan_yaml(decisions, document)


class OwnBackups(GovernedBackups):
    """The project's own top-level backups the policy governs, as the listing goes by: each read with its
    vault's name (for ``select``), and the ones a locked vault holds noted with when they may first go."""

    def __init__(self, policy: Policy, vaults: Sequence[Mapping[str, Any]], project_id: str, now: datetime) -> None:
        super().__init__(policy)
        self._vaults = {str(vault.get("id")): vault for vault in vaults}
        self._project_id = project_id
        self._now = now
        self.locks: dict[str, datetime] = {}  #: backup id -> when its locked vault first lets it go

    def clear(self) -> None:
        super().clear()
        self.locks.clear()

    def admits(self, row: Row) -> bool:
        if row.get("parent_id") or _foreign(row, self._project_id):
            return False
        vault = self._vaults.get(str(row.get("vault_id")), {})
        row["vault_name"], row["vault_locked"] = vault.get("name"), bool(vault.get("locked"))  # the row is ours
        return True

    def read(self, row: Row) -> ListedBackup:
        backup = super().read(row)
        until = locked_until(row, self._now)
        if until is not None:
            self.locks[backup.id] = until
        return backup


def _foreign(backup: Mapping[str, Any], project_id: str) -> bool:
    owner = backup.get("project_id")
    return bool(owner) and str(owner).lower() != project_id.lower()


def locked_until(backup: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a WORM-locked automatic backup may first be deleted, if that is still in the future."""
    extend = backup.get("extend_info")
    auto = isinstance(extend, Mapping) and bool(extend.get("auto_trigger"))
    if not (auto and backup.get("vault_locked")):
        return None
    expires = parse_time(backup.get("expired_at"))
    return None if expires is not None and expires <= now else (expires or datetime.max.replace(tzinfo=now.tzinfo))


def decide_cbr(own: OwnBackups, policy: Policy) -> list[Decision]:
    """The retention decisions for the project's own backups; the ones a locked vault holds are kept."""
    return [_keep_locked(decision, own.locks.get(decision.id)) for decision in decide_listed(own.backups, policy)]


def _keep_locked(decision: Decision, until: datetime | None) -> Decision:
    if decision.keep or until is None:
        return decision
    shown = "its expiry" if until.year == datetime.max.year else until.isoformat()
    return replace(decision, keep=True, reasons=(f"locked vault until {shown}",))


def cbr_plan_document(decisions: Sequence[Decision], project_id: str | None) -> dict[str, Any]:
    """The plan as data: ``service: cbr``, the project, and the doomed backups oldest first (ties by id)."""
    document: dict[str, Any] = {"service": SERVICE}
    if project_id is not None:
        document["project_id"] = project_id
    document["deletions"] = [{"backup_id": d.id, "vault_id": str(d.backup.vault_id)} for d in oldest_first(decisions)]
    return document


def render_cbr_plan_yaml(decisions: Sequence[Decision], document: Mapping[str, Any]) -> str:
    """The CBR plan (``cbr_plan_document``) as YAML for ``csbs-worker delete --service cbr``, headed by a comment
    with the counts."""
    deleted = len(document["deletions"])
    header = (f"# retention plan (CBR): delete {deleted} of {len(decisions)} governed backups; "
              f"keep {len(decisions) - deleted}\n")
    return header + dump_plan(document)
