"""The retention planner: keep rules applied to CSBS backups give a deletion plan and its explanation.

Pure: it reads checkpoint_item dicts as the API lists them and returns data; no HTTP, no event loop.

How a policy decides, per group (one history per server by default):

* Only backups the policy ``select``s and whose status is ``available`` or ``error`` are governed.
  Backups in any other status (``protecting``, ``deleting``, ...) are not governed: they are left out
  of the decisions, the plan and the explanation, and count for nothing.
* The ``available`` backups, newest first by ``created_at`` (read as UTC when it has no zone; equal
  times ordered by id, the smaller id counting as the newer), are the only ones the rules count.
* ``last``, the period rules, ``within``, ``tags`` and ``min_keep`` each keep their share,
  independently (restic style): a backup kept by several rules counts for each.
* ``error`` backups never count; they are deleted unless a tag keeps them.
* Every other governed backup is deleted. Its reason is ``no rule`` (or ``error``).

The plan names backups one by one (``checkpoint_items``), never whole records, so a record shared by
several servers loses only the backups the policy chose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import yaml

from worker.errors import PolicyError
from worker.retention.policy import Duration, Policy, Tag, load_policy, parse_policy

__all__ = [
    "Decision",
    "Policy",
    "check_max_deletions",
    "decide",
    "explain_records",
    "load_policy",
    "parse_created_at",
    "parse_policy",
    "plan_document",
    "render_plan_yaml",
]

AVAILABLE: Final = "available"
ERROR: Final = "error"
GOVERNED_STATUSES: Final = frozenset({AVAILABLE, ERROR})
ALL_GROUP: Final = "all"  # the one group of ``group_by: none``

# Period labels are built from the local wall time; they are also what the reasons show.
_PERIOD_LABELS: Final[Mapping[str, Callable[[datetime], str]]] = {
    "hourly": lambda t: f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}",
    "daily": lambda t: f"{t.year:04d}-{t.month:02d}-{t.day:02d}",
    "weekly": lambda t: "{:04d}-W{:02d}".format(*t.isocalendar()[:2]),
    "monthly": lambda t: f"{t.year:04d}-{t.month:02d}",
    "yearly": lambda t: f"{t.year:04d}",
}


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one governed backup, and every reason for it."""

    item: Mapping[str, Any]
    group: str
    keep: bool
    reasons: tuple[str, ...]

    @property
    def id(self) -> str:
        """The backup's (checkpoint_item's) id."""
        return str(self.item["id"])

    @property
    def checkpoint_id(self) -> str:
        """The id of the backup record holding the backup."""
        return str(self.item["checkpoint_id"])


@dataclass(frozen=True)
class _Backup:
    """A governed checkpoint_item with the fields the rules read, checked once."""

    item: Mapping[str, Any]
    id: str
    group: str
    created: datetime  # aware, UTC
    status: str


def parse_created_at(text: object) -> datetime:
    """An aware UTC datetime from the API's ``created_at``: no zone means UTC; Z or an offset is honoured."""
    if not isinstance(text, str):
        raise ValueError(f"created_at must be an ISO 8601 string, not {text!r}")
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decide(items: Iterable[Mapping[str, Any]], policy: Policy) -> list[Decision]:
    """Decide keep or delete for every governed backup, ordered by group, then newest first.

    An id listed twice (pages that overlapped) is decided once, from its first listing. A governed
    item without a string ``id``/``checkpoint_id`` or with an unreadable ``created_at`` raises
    ValueError: planning around a backup it cannot place could delete the wrong ones.
    """
    groups: dict[str, list[_Backup]] = defaultdict(list)
    seen: set[str] = set()
    for item in items:
        if is_governed(item, policy) and item.get("id") not in seen:
            backup = _backup(item, policy)
            seen.add(backup.id)
            groups[backup.group].append(backup)
    return [decision for name in sorted(groups) for decision in _decide_group(_newest_first(groups[name]), policy)]


def is_governed(item: Mapping[str, Any], policy: Policy) -> bool:
    """Whether the policy decides about this item: selected, and ``available`` or ``error``."""
    return item.get("status") in GOVERNED_STATUSES and policy.select.matches(item)


def group_of(item: Mapping[str, Any], policy: Policy) -> str:
    """The history a backup belongs to.

    Missing keys never merge unrelated histories: with ``group_by: resource_name`` a backup without
    a name stays in its own server's history (``(no name) <resource_id>``), and a backup without a
    ``resource_id`` (the API always sends one) forms a history of its own (``(no resource_id) <id>``).
    """
    if policy.group_by == "none":
        return ALL_GROUP
    resource_id = item.get("resource_id")
    server = str(resource_id) if resource_id else f"(no resource_id) {item.get('id')}"
    if policy.group_by == "resource_id":
        return server
    extend_info = item.get("extend_info")
    name = extend_info.get("resource_name") if isinstance(extend_info, Mapping) else None
    name = name or item.get("resource_name")
    return str(name) if name else f"(no name) {server}"


def _backup(item: Mapping[str, Any], policy: Policy) -> _Backup:
    backup_id, checkpoint_id = item.get("id"), item.get("checkpoint_id")
    if not isinstance(backup_id, str) or not isinstance(checkpoint_id, str):
        raise ValueError(f"backup {backup_id!r}: id and checkpoint_id must be strings")
    try:
        created = parse_created_at(item.get("created_at"))
    except ValueError as exc:
        raise ValueError(f"backup {backup_id}: {exc}") from None
    return _Backup(item, backup_id, group_of(item, policy), created, str(item["status"]))


def _newest_first(backups: Iterable[_Backup]) -> list[_Backup]:
    by_id = sorted(backups, key=lambda backup: backup.id)
    return sorted(by_id, key=lambda backup: backup.created, reverse=True)  # stable: ties stay in id order


def _decide_group(members: Sequence[_Backup], policy: Policy) -> list[Decision]:
    available = [backup for backup in members if backup.status == AVAILABLE]
    reasons: dict[str, list[str]] = {backup.id: [] for backup in members}
    for backup, reason in _keep_reasons(members, available, policy):
        reasons[backup.id].append(reason)
    return [_decision(backup, reasons[backup.id]) for backup in members]


def _decision(backup: _Backup, reasons: list[str]) -> Decision:
    if reasons:
        return Decision(backup.item, backup.group, True, tuple(reasons))
    why = ERROR if backup.status == ERROR else "no rule"
    return Decision(backup.item, backup.group, False, (why,))


def _keep_reasons(
    members: Sequence[_Backup], available: Sequence[_Backup], policy: Policy
) -> Iterator[tuple[_Backup, str]]:
    """Every (backup, reason) pair the rules give, in the order reasons are listed."""
    rules = policy.keep
    yield from ((backup, f"last {rank}") for rank, backup in enumerate(available[: rules.last], start=1))
    for period, count in rules.periods():
        yield from _period_reasons(available, period, count, policy.timezone)
    if rules.within is not None:
        yield from _within_reasons(available, rules.within, policy.timezone)
    yield from _tag_reasons(members, rules.tags)
    yield from ((backup, "min_keep") for backup in available[: policy.min_keep])


def _period_reasons(
    available: Sequence[_Backup], period: str, count: int, zone: ZoneInfo
) -> Iterator[tuple[_Backup, str]]:
    """The newest backup of each of the ``count`` most recent periods (local time) that hold one."""
    label_of = _PERIOD_LABELS[period]
    # A set, not "label differs from the previous one": local labels need not be monotonic in time
    # in every zone (a clock set back across midnight), and a set keeps "newest of its period" exact.
    seen: set[str] = set()
    for backup in available:
        if len(seen) >= count:
            return
        label = label_of(backup.created.astimezone(zone))
        if label not in seen:
            seen.add(label)
            yield backup, f"{period} {label}"


def _within_reasons(available: Sequence[_Backup], span: Duration, zone: ZoneInfo) -> Iterator[tuple[_Backup, str]]:
    """Every backup created at or after (the group's newest available backup - span)."""
    if not available:
        return
    start = span.start(available[0].created, zone)
    yield from ((backup, "within") for backup in available if backup.created >= start)


def _tag_reasons(members: Sequence[_Backup], tags: Sequence[Tag]) -> Iterator[tuple[_Backup, str]]:
    for backup in members:
        carried = _tags_of(backup.item)
        yield from ((backup, f"tag {tag}") for tag in tags if tag in carried)


def _tags_of(item: Mapping[str, Any]) -> set[Tag]:
    tags = item.get("tags")
    if not isinstance(tags, list):
        return set()
    return {
        Tag(entry["key"], entry["value"])
        for entry in tags
        if isinstance(entry, Mapping) and isinstance(entry.get("key"), str) and isinstance(entry.get("value"), str)
    }


def deletion_count(decisions: Iterable[Decision]) -> int:
    """How many backups the decisions delete."""
    return sum(1 for decision in decisions if not decision.keep)


def check_max_deletions(decisions: Sequence[Decision], policy: Policy) -> int:
    """The number of deletions; PolicyError when it exceeds the policy's ``max_deletions``.

    Call it after writing ``--explain``, so the operator can see what the refused plan held.
    """
    count = deletion_count(decisions)
    if policy.max_deletions is not None and count > policy.max_deletions:
        raise PolicyError(
            f"{policy.source}: the plan would delete {count} backups, more than max_deletions "
            f"({policy.max_deletions}); nothing planned. Check the policy, or raise max_deletions."
        )
    return count


def plan_document(decisions: Sequence[Decision], project_id: str | None) -> dict[str, Any]:
    """The plan as data: the deleted backups grouped by record, oldest first, each named explicitly.

    Records come in the order of their oldest doomed backup, backups in a record oldest first (ties by
    id), so an interrupted run has removed the oldest first. ``project_id`` None leaves the key out.
    """
    doomed = sorted((d for d in decisions if not d.keep), key=lambda d: d.id)
    doomed.sort(key=lambda d: parse_created_at(d.item.get("created_at")))
    by_record: dict[str, list[str]] = {}
    for decision in doomed:
        by_record.setdefault(decision.checkpoint_id, []).append(decision.id)
    document: dict[str, Any] = {} if project_id is None else {"project_id": project_id}
    document["deletions"] = [
        {"checkpoint_id": checkpoint_id, "checkpoint_items": items} for checkpoint_id, items in by_record.items()
    ]
    return document


def render_plan_yaml(decisions: Sequence[Decision], project_id: str | None) -> str:
    """The plan as YAML for ``csbs-worker delete``, headed by a comment with the counts."""
    document = plan_document(decisions, project_id)
    deleted = deletion_count(decisions)
    header = (
        f"# retention plan: delete {deleted} of {len(decisions)} governed backups "
        f"in {len(document['deletions'])} records; keep {len(decisions) - deleted}\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000)


def explain_records(decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    """One JSON-ready object per governed backup: what was decided and every reason why."""
    return [
        {
            "id": decision.id,
            "checkpoint_id": decision.checkpoint_id,
            "name": decision.item.get("name"),
            "group": decision.group,
            "created_at": decision.item.get("created_at"),
            "status": decision.item.get("status"),
            "decision": "keep" if decision.keep else "delete",
            "reasons": list(decision.reasons),
        }
        for decision in decisions
    ]
