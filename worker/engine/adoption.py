"""Deletions already running at the provider before this run sends anything (docs/design.md, "Adoption").

A run that crashed (SIGKILL, OOM, node loss) leaves its deletions running. The provider counts them against
the user's five, so a new run that ignored them would queue its own behind them and lose its task time in
the queue. Before the first DELETE, the service lists every backup it is deleting (queued or running; for
CSBS and CBR ``waiting_delete`` and ``deleting``, all pages): those the plan names are adopted (followed to
their end without a new DELETE), the others are foreign and only waited for. Both take slots before anything
new is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from worker.engine.answer import Answer
from worker.engine.tracking import TaskSpec

log = structlog.get_logger()

@dataclass(frozen=True, slots=True)
class ForeignDeletion:
    """A backup being deleted at the provider that the plan does not name."""

    container_id: str
    backup_id: str | None


@dataclass(frozen=True)
class InProgress:
    """What the provider was already deleting when the run began."""

    adopted: frozenset[int] = frozenset()  # plan indices
    foreign: tuple[ForeignDeletion, ...] = field(default=())


def skipped(answer: Answer, **fields: Any) -> InProgress:
    """Nothing adopted: the listing of deletions in progress failed (the run goes on without it)."""
    log.warning("adoption_skipped", reason="cannot list the deletions in progress", **fields, **answer.log_fields())
    return InProgress()


Deleting = Sequence[tuple[str, str]]
"""The backups being deleted, as (backup id, id of what holds it: its record or vault) pairs."""


def matched(plan: Sequence[TaskSpec], deleting: Deleting) -> InProgress:
    """``match``, logged as ``deletions_in_progress`` when anything is being deleted."""
    if not deleting:
        return InProgress()
    found = match(plan, deleting)
    log.info("deletions_in_progress", adopted=len(found.adopted), foreign=len(found.foreign),
             detail="they take slots before anything new is sent")
    return found


def match(plan: Sequence[TaskSpec], deleting: Deleting) -> InProgress:
    """Plan tasks whose backup (or any backup of whose record) is being deleted, and the rest as foreign."""
    by_item = dict(deleting)
    records = set(by_item.values())
    adopted: set[int] = set()
    covered: set[str] = set()
    for index, task in enumerate(plan):
        if task.backup_id is None and task.container_id in records:
            adopted.add(index)
            covered.add(task.container_id)
        elif task.backup_id is not None and task.backup_id in by_item:
            adopted.add(index)
            covered.add(task.backup_id)
    foreign = tuple(ForeignDeletion(checkpoint, item) for item, checkpoint in by_item.items()
                    if item not in covered and checkpoint not in covered)
    return InProgress(frozenset(adopted), foreign)
