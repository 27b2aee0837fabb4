"""Vaults, backups and operation logs as the CBR emulator keeps them, and their JSON as CBR shows it.

The stored ``status`` of a backup is its status outside any deletion; while a deletion holds it, the
store shows ``waiting_delete`` / ``deleting`` instead (``Shown``). Times are rendered in one of the
three forms of point 14 (``docs/cbr-api.md``), chosen by the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.emulator.core.backup import SERVER_TYPE, BaseBackup
from worker.emulator.core.tasks import DeletionTask

SERVER_PROVIDER = "0daac4c5-6707-4851-97ba-169e36266b66"
DISK_PROVIDER = "d1603440-187d-4516-af25-121250c7cc97"
VOLUME_TYPE = "OS::Cinder::Volume"
STATUSES = frozenset({
    "available", "protecting", "deleting", "restoring", "error", "waiting_protect", "waiting_delete",
    "waiting_restore",
})


def format_time(moment: datetime, form: str) -> str:
    """``offset``: 2019-05-10T07:59:12.085+00:00; ``naive``: 2020-02-21T07:00:54.065135; ``z``: 2020-02-23T01:00:32Z."""
    utc = moment.astimezone(UTC)
    if form == "naive":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if form == "z":
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+00:00"


@dataclass(eq=False)
class Vault:
    """One vault; ``billing_status`` is ``billing.status`` (available, lock, frozen, deleting, error)."""

    id: str
    name: str
    created_at: datetime
    locked: bool = False
    billing_status: str = "available"
    object_type: str = "server"
    policy_id: str | None = None


@dataclass(eq=False)
class Backup(BaseBackup):
    """One backup (a top-level one, or a per-disk child with ``parent_id``) with ``BaseBackup``'s fields and
    CBR's own; mutable, owned by the store."""

    vault_id: str
    parent_id: str = ""
    auto_trigger: bool = False
    expired_at: datetime | None = None
    image_ids: list[str] = field(default_factory=list)  #: ``extend_info.os_images_data``
    owner_project: str = ""  #: set for a backup shared in from another project
    resource_size: int = 40
    children: list[str] = field(default_factory=list)
    lag_until: float | None = None  #: clock time until which reads show it as before its DELETE


@dataclass(frozen=True, slots=True)
class Shown:
    """The part of a backup that depends on when it is read."""

    status: str
    progress: int | None
    updated_at: datetime


@dataclass(eq=False)
class OpLog:
    """One ``delete`` operation log; its status follows the deletion it records."""

    id: str
    backup_id: str
    backup_name: str
    checkpoint_id: str
    vault_id: str
    vault_name: str
    resource_id: str
    resource_name: str
    resource_type: str
    request_id: str
    created_at: datetime
    status: str = "waiting"  # waiting, running, success, failed (the op-log enum)
    progress: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_code: str = ""
    error_message: str = ""
    task: DeletionTask | None = None


def render_vault(vault: Vault, project_id: str, backups: list[Backup], form: str) -> dict[str, Any]:
    """``GET vaults/{id}``'s ``vault``."""
    resources: dict[str, dict[str, Any]] = {}
    for backup in backups:
        entry = resources.setdefault(backup.resource_id, {
            "id": backup.resource_id, "name": backup.resource_name, "type": backup.resource_type,
            "protect_status": "available", "size": backup.resource_size, "backup_count": 0, "backup_size": 0,
        })
        entry["backup_count"] += 1
        entry["backup_size"] += backup.resource_size * 1024
    return {
        "id": vault.id, "name": vault.name, "project_id": project_id, "provider_id": SERVER_PROVIDER,
        "resources": list(resources.values()), "tags": [], "auto_bind": False, "bind_rules": {},
        "auto_expand": False, "locked": vault.locked, "created_at": format_time(vault.created_at, form),
        "billing": {"status": vault.billing_status, "size": 100, "used": 0, "object_type": vault.object_type,
                    "protect_type": "backup", "charging_mode": "post_paid"},
    }


def render_backup(backup: Backup, shown: Shown, project_id: str, children: list[dict[str, Any]],
                  form: str) -> dict[str, Any]:
    """``GET backups/{id}``'s ``backup``; ``children`` are the children's rendered JSON."""
    extend: dict[str, Any] = {
        "auto_trigger": backup.auto_trigger, "bootable": backup.resource_type == SERVER_TYPE,
        "incremental": False, "support_lld": False, "supported_restore_mode": "backup",
        "os_images_data": [{"image_id": image_id} for image_id in backup.image_ids],
        "contain_system_disk": backup.resource_type == SERVER_TYPE, "encrypted": False,
        "system_disk": False,
    }
    if shown.progress is not None:
        extend["progress"] = shown.progress
    return {
        "id": backup.id, "name": backup.name, "description": "", "status": shown.status,
        "checkpoint_id": backup.checkpoint_id, "vault_id": backup.vault_id,
        "project_id": backup.owner_project or project_id,
        "provider_id": SERVER_PROVIDER if backup.resource_type == SERVER_TYPE else DISK_PROVIDER,
        "parent_id": backup.parent_id, "children": children, "resource_id": backup.resource_id,
        "resource_name": backup.resource_name, "resource_type": backup.resource_type,
        "resource_size": backup.resource_size, "resource_az": "eu-de-01", "image_type": "backup",
        "created_at": format_time(backup.created_at, form),
        "updated_at": format_time(shown.updated_at, form),
        "expired_at": format_time(backup.expired_at, form) if backup.expired_at else None,
        "protected_at": format_time(backup.created_at, form), "enterprise_project_id": "0",
        "extend_info": extend,
    }


def render_op_log(log: OpLog, project_id: str, form: str) -> dict[str, Any]:
    """One entry of ``GET operation-logs`` for a delete (``extra_info.delete.backup_id``)."""
    return {
        "id": log.id, "operation_type": "delete", "status": log.status, "checkpoint_id": log.checkpoint_id,
        "created_at": format_time(log.created_at, form),
        "started_at": format_time(log.started_at, form) if log.started_at else None,
        "ended_at": format_time(log.ended_at, form) if log.ended_at else None,
        "updated_at": format_time(log.ended_at or log.started_at or log.created_at, form),
        "error_info": {"code": log.error_code, "message": log.error_message},
        "policy_id": "", "project_id": project_id, "provider_id": SERVER_PROVIDER,
        "vault_id": log.vault_id, "vault_name": log.vault_name,
        "extra_info": {
            "delete": {"backup_id": log.backup_id, "backup_name": log.backup_name},
            "common": {"progress": log.progress, "request_id": log.request_id, "task_id": log.id},
            "resource": {"id": log.resource_id, "name": log.resource_name, "type": log.resource_type},
        },
    }
