"""A backup (checkpoint item) as the emulator keeps it, and its JSON as CSBS shows it.

The stored ``status`` is the status outside any deletion (``available``, ``error``, ``protecting``...,
or ``deleted`` while a finished deletion lingers). While a deletion task holds the item, the status shown
comes from the task (``waiting_delete`` / ``deleting``); ``BackupStore`` decides which one a reader sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.emulator.core.backup import BaseBackup

STATUSES = frozenset({
    "waiting_protect", "protecting", "available", "waiting_restore", "restoring",
    "error", "waiting_delete", "deleting", "deleted",
})
# CSBS shows times without a zone designator (read as UTC): 2017-04-15T04:20:37.277880
CSBS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass(eq=False)
class Item(BaseBackup):
    """One backup of one record (``BaseBackup``'s fields, and CSBS's own); mutable, owned by the store."""

    policy_id: str | None = None
    description: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)
    resource_az: str = "eu-de-01"
    size_mb: int = 0
    taskid: str = ""
    finished_at: datetime | None = None
    image_registered: bool = False
    image_id: str = ""
    fail_op: str = ""
    fail_reason: str = ""
    fail_code: dict[str, Any] = field(default_factory=dict)
    progress: int = 100
    purge_at: float | None = None  #: clock time a lingering ``deleted`` item turns into 404


@dataclass(frozen=True, slots=True)
class Shown:
    """The part of an item that depends on when and by whom it is read (a deletion, the status lag)."""

    status: str
    progress: int
    updated_at: datetime
    taskid: str


View = tuple[Item, Shown]
"""An item with its state as a reader sees it now; rendered to JSON only when it is answered."""


@dataclass(frozen=True, slots=True)
class Rendering:
    """How numbers are written in an item's JSON (the API documents neither)."""

    progress_format: str = "int"  # int | float | string
    fail_code_numeric: bool = False


PLAIN = Rendering()


def render(view: View, rendering: Rendering = PLAIN) -> dict[str, Any]:
    """The item's JSON (the shape of ``GET checkpoint_items/{id}``) as the reader sees it."""
    item, shown = view
    finished = item.finished_at or item.created_at
    return {
        "id": item.id,
        "checkpoint_id": item.checkpoint_id,
        "name": item.name,
        "status": shown.status,
        "resource_id": item.resource_id,
        "resource_type": item.resource_type,
        "created_at": format_csbs(item.created_at),
        "updated_at": format_csbs(shown.updated_at),
        "description": item.description,
        "tags": [dict(tag) for tag in item.tags],
        "backup_data": {"eip": "", "cloudservicetype": "server", "ram": 4096, "vcpus": 2,
                        "__openstack_region_name": "", "private_ip": "", "disk": 40, "imagetype": "gold"},
        "extend_info": {
            "progress": _progress(shown.progress, rendering),
            "fail_op": item.fail_op,
            "fail_reason": item.fail_reason,
            "fail_code": _fail_code(item.fail_code, rendering),
            "taskid": shown.taskid,
            "finished_at": format_csbs(finished),
            "resource_name": item.resource_name,
            "resource_type": item.resource_type,
            "resource_az": item.resource_az,
            "auto_trigger": item.policy_id is not None,
            "image_type": "backup",
            "incremental": False,
            "size": item.size_mb,
            "average_speed": 0,
            "space_saving_ratio": 0,
            "copy_status": "na",
            "copy_from": "",
            "supported_restore_mode": "backup",
            "support_lld": False,
            "hypervisor_type": "QEMU",
            "os_images_data": [{"image_id": item.image_id}] if item.image_registered else [],
            "volume_backups": [],
        },
    }


def _progress(percent: int, rendering: Rendering) -> int | float | str:
    """``extend_info.progress`` as the scenario writes it: 42, 42.0 or "42"."""
    if rendering.progress_format == "float":
        return float(percent)
    if rendering.progress_format == "string":
        return str(percent)
    return percent


def _fail_code(code: dict[str, Any], rendering: Rendering) -> dict[str, Any]:
    """``extend_info.fail_code`` with ``Code`` as text, or as a number when the scenario says so."""
    shown = dict(code)
    if rendering.fail_code_numeric and str(shown.get("Code", "")).isdigit():
        shown["Code"] = int(shown["Code"])
    return shown


def format_csbs(moment: datetime) -> str:
    """A datetime in the CSBS format, converted to UTC first when it carries a zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(CSBS_TIME_FORMAT)
