"""What identifies a backup, read the same way from either service's answers, and the rows an approvable plan
records of the planner's decisions (docs/plans.md, "Approvable plans").

A CSBS checkpoint item and a CBR backup both carry ``resource_id`` and ``created_at`` under those names, and
what holds them under the service's own key (``checkpoint_id``, ``vault_id``): one reader serves both. How
and when a service looks at a backup to read it is the service's own (its ``rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from worker.cloud.fields import read_datetime
from worker.engine.identity import Identity
from worker.errors import UsageError
from worker.retention.rules import parse_created_at

SizeOf = Callable[[Mapping[str, Any]], int | None]
"""The size of a listed backup in MB, where the service reports one."""


def read_identity(body: Mapping[str, Any], container_key: str) -> Identity:
    """The identity a service's answer (one backup's JSON) shows."""
    return Identity(str(body.get(container_key) or ""), str(body.get("resource_id") or ""),
                    read_datetime(body.get("created_at")))


class Decided(Protocol):
    """What the rows read of a planner's decision (``worker.retention.rules.Decision`` has it)."""

    @property
    def keep(self) -> bool: ...

    @property
    def id(self) -> str: ...

    @property
    def item(self) -> Mapping[str, Any]: ...


def approval_rows(decisions: Iterable[Decided], container_key: str,
                  size_mb: SizeOf) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``planned`` rows (each deleted backup, by resource, oldest first) and the ``kept`` rows (per resource
    with a governed backup: how many are kept, the oldest and the newest) of an approvable plan.

    Of each decision it reads ``keep``, ``id`` and, of its ``item``: ``container_key``, ``resource_id``,
    ``created_at``, ``resource_name`` (or ``extend_info.resource_name``) and what ``size_mb`` reads.
    """
    planned: list[dict[str, Any]] = []
    kept: dict[str, list[Mapping[str, Any]]] = {}  # every governed resource, kept backups or none
    names: dict[str, str] = {}
    for decision in decisions:
        item = decision.item
        resource = str(item.get("resource_id") or "")
        if not resource:
            raise UsageError(f"backup {decision.id} has no resource_id: an approvable plan cannot identify it")
        names.setdefault(resource, _resource_name(item))
        kept_here = kept.setdefault(resource, [])
        if decision.keep:
            kept_here.append(item)
            continue
        row = {"backup_id": decision.id, container_key: str(item.get(container_key) or ""), "resource_id": resource,
               "created_at": str(item.get("created_at"))}
        size = size_mb(item)
        planned.append(row if size is None else {**row, "size_mb": size})
    planned.sort(key=lambda row: (row["resource_id"], parse_created_at(row["created_at"]), row["backup_id"]))
    rows = [_kept_row(resource, names[resource], items) for resource, items in kept.items()]
    rows.sort(key=lambda row: (row.get("resource_name", ""), row["resource_id"]))
    return planned, rows


def _kept_row(resource: str, name: str, items: list[Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"resource_id": resource}
    if name:
        row["resource_name"] = name
    row["kept"] = len(items)
    if items:
        by_time = sorted(items, key=lambda item: parse_created_at(item.get("created_at")))
        row["oldest"], row["newest"] = str(by_time[0]["created_at"]), str(by_time[-1]["created_at"])
    return row


def _resource_name(item: Mapping[str, Any]) -> str:
    extend = item.get("extend_info")
    name = extend.get("resource_name") if isinstance(extend, Mapping) else None
    return str(name or item.get("resource_name") or "")
