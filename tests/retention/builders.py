"""Builders of checkpoint_items and policies for the retention tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from worker.retention.policy import Duration, KeepRules, Policy, Selection, Tag
from worker.retention.rules import Decision


def backup(
    backup_id: str,
    created_at: str,
    *,
    status: str = "available",
    resource_id: str = "srv-a",
    name: str | None = "autobk_daily",
    checkpoint_id: str | None = None,
    tags: Sequence[tuple[str, str]] = (),
    resource_name: str | None = None,
) -> dict[str, Any]:
    """A checkpoint_item as the CSBS API lists it (``created_at`` without a zone, as the API sends it)."""
    item: dict[str, Any] = {
        "id": backup_id,
        "checkpoint_id": checkpoint_id or f"rec-{backup_id}",
        "status": status,
        "resource_id": resource_id,
        "resource_type": "OS::Nova::Server",
        "created_at": created_at,
        "tags": [{"key": key, "value": value} for key, value in tags],
        "extend_info": {"progress": 100, "resource_name": resource_name},
    }
    if name is not None:
        item["name"] = name
    return item


def policy(
    *,
    timezone: str = "UTC",
    min_keep: int = 0,
    within: str | None = None,
    tags: Sequence[tuple[str, str]] = (),
    group_by: Any = "resource_id",
    select: Selection | None = None,
    max_deletions: int | None = None,
    **counts: int,
) -> Policy:
    """A policy built directly; ``min_keep`` defaults to 0 here so each rule is seen on its own."""
    span = Duration(int(within[:-1]), within[-1]) if within else None  # type: ignore[arg-type]
    keep = KeepRules(**counts, within=span, tags=tuple(Tag(key, value) for key, value in tags))
    return Policy(
        keep=keep,
        timezone=ZoneInfo(timezone),
        group_by=group_by,
        select=select or Selection(),
        min_keep=min_keep,
        max_deletions=max_deletions,
        source="test-policy.yaml",
    )


def kept(decisions: Iterable[Decision]) -> dict[str, list[str]]:
    """The kept backups' ids with their reasons."""
    return {d.id: list(d.reasons) for d in decisions if d.keep}


def deleted(decisions: Iterable[Decision]) -> dict[str, list[str]]:
    """The deleted backups' ids with their reasons."""
    return {d.id: list(d.reasons) for d in decisions if not d.keep}
