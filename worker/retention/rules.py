"""The retention planner: keep rules applied to CSBS backups give a deletion plan and its explanation.

Pure: it reads backups as the API lists them (``decide``: checkpoint_item dicts; ``decide_listed``: the
compact ``ListedBackup`` records a planner streams a listing into) and returns data; no HTTP, no event loop.

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
several servers loses only the backups the policy chose. ``max_deletions`` and ``max_deletions_percent`` (of
the governed backups, in total) refuse a plan that deletes more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from worker.errors import PolicyError
from worker.retention.listed import BackupReader, ListedBackup, parse_created_at
from worker.retention.plan_yaml import dump_plan
from worker.retention.policy import Duration, Policy, Tag, load_policy, parse_policy

__all__ = [
    "Decision",
    "ListedBackup",
    "Policy",
    "check_max_deletions",
    "decide",
    "decide_listed",
    "explain_record",
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
_NO_RULE: Final = ("no rule",)  # the reasons of a deletion, one tuple for all of them
_ERROR: Final = (ERROR,)

# Period labels are built from the local wall time; they are also what the reasons show.
_PERIOD_LABELS: Final[Mapping[str, Callable[[datetime], str]]] = {
    "hourly": lambda t: f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}",
    "daily": lambda t: f"{t.year:04d}-{t.month:02d}-{t.day:02d}",
    "weekly": lambda t: "{:04d}-W{:02d}".format(*t.isocalendar()[:2]),
    "monthly": lambda t: f"{t.year:04d}-{t.month:02d}",
    "yearly": lambda t: f"{t.year:04d}",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided for one governed backup, and every reason for it."""

    backup: ListedBackup
    group: str
    keep: bool
    reasons: tuple[str, ...]

    @property
    def id(self) -> str:
        """The backup's (checkpoint_item's) id."""
        return self.backup.id

    @property
    def checkpoint_id(self) -> str:
        """The id of the backup record holding the backup."""
        return self.backup.checkpoint_id


def decide(items: Iterable[Mapping[str, Any]], policy: Policy) -> list[Decision]:
    """Decide keep or delete for every governed backup of a listing, ordered by group, then newest first.

    An id listed twice (pages that overlapped) is decided once, from its first listing. A governed
    item without a string ``id``/``checkpoint_id`` or with an unreadable ``created_at`` raises
    ValueError: planning around a backup it cannot place could delete the wrong ones.
    """
    reader = BackupReader(policy.keep.tags)
    backups: list[ListedBackup] = []
    seen: set[Any] = set()
    for item in items:
        if is_governed(item, policy) and item.get("id") not in seen:
            backups.append(reader.read(item))
            seen.add(item.get("id"))
    return decide_listed(backups, policy)


def decide_listed(backups: Iterable[ListedBackup], policy: Policy) -> list[Decision]:
    """``decide`` for backups already read and known to be governed, their ids distinct."""
    groups: dict[str, list[ListedBackup]] = defaultdict(list)
    for backup in backups:
        groups[group_of(backup, policy)].append(backup)
    return [decision for name in sorted(groups)
            for decision in _decide_group(name, _newest_first(groups[name]), policy)]


def is_governed(item: Mapping[str, Any], policy: Policy) -> bool:
    """Whether the policy decides about this item: selected, and ``available`` or ``error``."""
    return item.get("status") in GOVERNED_STATUSES and policy.select.matches(item)


def group_of(backup: ListedBackup, policy: Policy) -> str:
    """The history a backup belongs to.

    Missing keys never merge unrelated histories: with ``group_by: resource_name`` a backup without
    a name stays in its own server's history (``(no name) <resource_id>``), and a backup without a
    ``resource_id`` (the API always sends one) forms a history of its own (``(no resource_id) <id>``).
    """
    if policy.group_by == "none":
        return ALL_GROUP
    server = backup.resource_id or f"(no resource_id) {backup.id}"
    if policy.group_by == "resource_id":
        return server
    return backup.resource_name or f"(no name) {server}"


def _newest_first(backups: list[ListedBackup]) -> list[ListedBackup]:
    backups.sort(key=lambda backup: backup.id)
    backups.sort(key=lambda backup: backup.created, reverse=True)  # stable: ties stay in id order
    return backups


def _decide_group(group: str, members: Sequence[ListedBackup], policy: Policy) -> list[Decision]:
    available = [backup for backup in members if backup.status == AVAILABLE]
    reasons: dict[str, list[str]] = {}
    for backup, reason in _keep_reasons(members, available, policy):
        reasons.setdefault(backup.id, []).append(reason)
    return [_decision(backup, group, reasons.get(backup.id)) for backup in members]


def _decision(backup: ListedBackup, group: str, reasons: list[str] | None) -> Decision:
    if reasons:
        return Decision(backup, group, True, tuple(reasons))
    return Decision(backup, group, False, _ERROR if backup.status == ERROR else _NO_RULE)


def _keep_reasons(
    members: Sequence[ListedBackup], available: Sequence[ListedBackup], policy: Policy
) -> Iterator[tuple[ListedBackup, str]]:
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
    available: Sequence[ListedBackup], period: str, count: int, zone: ZoneInfo
) -> Iterator[tuple[ListedBackup, str]]:
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


def _within_reasons(available: Sequence[ListedBackup], span: Duration,
                    zone: ZoneInfo) -> Iterator[tuple[ListedBackup, str]]:
    """Every backup created at or after (the group's newest available backup - span)."""
    if not available:
        return
    start = span.start(available[0].created, zone)
    yield from ((backup, "within") for backup in available if backup.created >= start)


def _tag_reasons(members: Sequence[ListedBackup], tags: Sequence[Tag]) -> Iterator[tuple[ListedBackup, str]]:
    for backup in members:
        if backup.tags:
            yield from ((backup, f"tag {tag}") for tag in tags if tag in backup.tags)


def deletion_count(decisions: Iterable[Decision]) -> int:
    """How many backups the decisions delete."""
    return sum(1 for decision in decisions if not decision.keep)


def check_max_deletions(decisions: Sequence[Decision], policy: Policy) -> int:
    """The number of deletions; PolicyError when it exceeds the policy's ``max_deletions``, or its
    ``max_deletions_percent`` of the governed backups.

    Call it after writing ``--explain``, so the operator can see what the refused plan held.
    """
    count = deletion_count(decisions)
    if policy.max_deletions is not None and count > policy.max_deletions:
        raise PolicyError(
            f"{policy.source}: the plan would delete {count} backups, more than max_deletions "
            f"({policy.max_deletions}); nothing planned. Check the policy, or raise max_deletions."
        )
    limit = policy.max_deletions_percent
    if limit is not None and count * 100 > limit * len(decisions):  # in whole numbers: no rounding decides
        raise PolicyError(
            f"{policy.source}: the plan would delete {count} of {len(decisions)} governed backups "
            f"({percent(count, len(decisions))} %), more than max_deletions_percent ({limit:g} %); nothing "
            "planned. Check the policy and the listing, or raise max_deletions_percent."
        )
    return count


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent, to two decimals without trailing zeros (0 of 0 is 0)."""
    return f"{part * 100 / whole:.2f}".rstrip("0").rstrip(".") if whole else "0"


def plan_document(decisions: Sequence[Decision], project_id: str | None) -> dict[str, Any]:
    """The plan as data: the deleted backups grouped by record, oldest first, each named explicitly.

    Records come in the order of their oldest doomed backup, backups in a record oldest first (ties by
    id), so an interrupted run has removed the oldest first. ``project_id`` None leaves the key out.
    """
    by_record: dict[str, list[str]] = {}
    for decision in oldest_first(decisions):
        by_record.setdefault(decision.checkpoint_id, []).append(decision.id)
    document: dict[str, Any] = {} if project_id is None else {"project_id": project_id}
    document["deletions"] = [
        {"checkpoint_id": checkpoint_id, "checkpoint_items": items} for checkpoint_id, items in by_record.items()
    ]
    return document


def oldest_first(decisions: Iterable[Decision]) -> list[Decision]:
    """The deletions among ``decisions``, oldest first (ties by id): the order plans name them in."""
    doomed = sorted((d for d in decisions if not d.keep), key=lambda d: d.id)
    doomed.sort(key=lambda d: d.backup.created)
    return doomed


def render_plan_yaml(decisions: Sequence[Decision], project_id: str | None,
                     document: Mapping[str, Any] | None = None) -> str:
    """The plan (``plan_document``, made unless given) as YAML for ``csbs-worker delete``, headed by a comment
    with the counts."""
    document = plan_document(decisions, project_id) if document is None else document
    deleted = deletion_count(decisions)
    header = (
        f"# retention plan: delete {deleted} of {len(decisions)} governed backups "
        f"in {len(document['deletions'])} records; keep {len(decisions) - deleted}\n"
    )
    return header + dump_plan(document)


def explain_record(decision: Decision) -> dict[str, Any]:
    """One governed backup's JSON-ready explanation: what was decided and every reason why."""
    backup = decision.backup
    return {
        "id": backup.id,
        "checkpoint_id": backup.checkpoint_id,
        "name": backup.name,
        "group": decision.group,
        "created_at": backup.created_at,
        "status": backup.status,
        "decision": "keep" if decision.keep else "delete",
        "reasons": list(decision.reasons),
    }


def explain_records(decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    """``explain_record`` of every decision."""
    return [explain_record(decision) for decision in decisions]
