"""Deletions already running at the provider before this run sends anything (docs/design.md, "Adoption").

A run that crashed (SIGKILL, OOM, node loss) leaves its deletions running. The provider counts them against
the user's five, so a new run that ignored them would queue its own behind them and lose its task time in
the queue. Before the first DELETE, every backup in ``waiting_delete`` or ``deleting`` is listed (one
listing per status, all pages): those the plan names are adopted (followed to their end without a new
DELETE), the others are foreign and only waited for. Both take slots before anything new is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from worker.csbs.answers import Answer, AnswerKind
from worker.tracking import TaskSpec

log = structlog.get_logger()

DELETING_STATUSES = ("waiting_delete", "deleting")


class ListingClient(Protocol):
    async def list_items(self, *, deadline: float | None = None, **filters: str) -> Answer: ...


@dataclass(frozen=True, slots=True)
class ForeignDeletion:
    """A backup being deleted at the provider that the plan does not name."""

    checkpoint_id: str
    item_id: str | None


@dataclass(frozen=True)
class InProgress:
    """What the provider was already deleting when the run began."""

    adopted: frozenset[int] = frozenset()  # plan indices
    foreign: tuple[ForeignDeletion, ...] = field(default=())


async def find_in_progress(client: ListingClient, plan: Sequence[TaskSpec], deadline: float) -> InProgress:
    """List the backups being deleted and match them to the plan; nothing found when the listing fails."""
    deleting: list[dict[str, Any]] = []
    for status in DELETING_STATUSES:
        answer = await client.list_items(deadline=deadline, status=status)
        if answer.kind is not AnswerKind.OK:
            return skipped(answer, status=status)
        deleting.extend(answer.data)
    return matched(plan, deleting)


def skipped(answer: Answer, **fields: Any) -> InProgress:
    """Nothing adopted: the listing of deletions in progress failed (the run goes on without it)."""
    log.warning("adoption_skipped", reason="cannot list the deletions in progress", **fields, **answer.log_fields())
    return InProgress()


def matched(plan: Sequence[TaskSpec], deleting: Sequence[dict[str, Any]]) -> InProgress:
    """``match``, logged as ``deletions_in_progress`` when anything is being deleted."""
    if not deleting:
        return InProgress()
    found = match(plan, deleting)
    log.info("deletions_in_progress", adopted=len(found.adopted), foreign=len(found.foreign),
             detail="they take slots before anything new is sent")
    return found


def match(plan: Sequence[TaskSpec], deleting: Sequence[dict[str, Any]]) -> InProgress:
    """Plan tasks whose backup (or any backup of whose record) is being deleted, and the rest as foreign."""
    by_item = {str(item.get("id")): str(item.get("checkpoint_id")) for item in deleting}
    records = set(by_item.values())
    adopted: set[int] = set()
    covered: set[str] = set()
    for index, task in enumerate(plan):
        if task.item_id is None and task.checkpoint_id in records:
            adopted.add(index)
            covered.add(task.checkpoint_id)
        elif task.item_id is not None and task.item_id in by_item:
            adopted.add(index)
            covered.add(task.item_id)
    foreign = tuple(ForeignDeletion(checkpoint, item) for item, checkpoint in by_item.items()
                    if item not in covered and checkpoint not in covered)
    return InProgress(frozenset(adopted), foreign)
