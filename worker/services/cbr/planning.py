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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import yaml

from worker.cloud.fields import read_datetime as parse_time
from worker.retention.policy import Policy
from worker.retention.rules import Decision, decide, parse_created_at

SERVICE = "cbr"


def own_backups(backups: Iterable[Mapping[str, Any]], vaults: Iterable[Mapping[str, Any]],
                project_id: str) -> list[dict[str, Any]]:
    """The project's own top-level backups, each with its ``vault_name`` and ``vault_locked``."""
    by_vault = {str(vault.get("id")): vault for vault in vaults}
    own: list[dict[str, Any]] = []
    for backup in backups:
        if backup.get("parent_id") or _foreign(backup, project_id):
            continue
        vault = by_vault.get(str(backup.get("vault_id")), {})
        own.append({**backup, "vault_name": vault.get("name"), "vault_locked": bool(vault.get("locked"))})
    return own


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


def decide_cbr(backups: Iterable[Mapping[str, Any]], policy: Policy, now: datetime) -> list[Decision]:
    """The retention decisions for the project's own backups (see ``own_backups``); locked ones are kept."""
    decisions = decide(backups, policy)
    return [_keep_locked(decision, now) for decision in decisions]


def _keep_locked(decision: Decision, now: datetime) -> Decision:
    until = locked_until(decision.item, now)
    if decision.keep or until is None:
        return decision
    shown = "its expiry" if until.year == datetime.max.year else until.isoformat()
    return replace(decision, keep=True, reasons=(f"locked vault until {shown}",))


def cbr_plan_document(decisions: Sequence[Decision], project_id: str | None) -> dict[str, Any]:
    """The plan as data: ``service: cbr``, the project, and the doomed backups oldest first (ties by id)."""
    doomed = sorted((d for d in decisions if not d.keep), key=lambda d: d.id)
    doomed.sort(key=lambda d: parse_created_at(d.item.get("created_at")))
    document: dict[str, Any] = {"service": SERVICE}
    if project_id is not None:
        document["project_id"] = project_id
    document["deletions"] = [{"backup_id": d.id, "vault_id": str(d.item.get("vault_id"))} for d in doomed]
    return document


def render_cbr_plan_yaml(decisions: Sequence[Decision], project_id: str | None) -> str:
    """The CBR plan as YAML for ``csbs-worker delete --service cbr``, headed by a comment with the counts."""
    document = cbr_plan_document(decisions, project_id)
    deleted = len(document["deletions"])
    header = (f"# retention plan (CBR): delete {deleted} of {len(decisions)} governed backups; "
              f"keep {len(decisions) - deleted}\n")
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000)
