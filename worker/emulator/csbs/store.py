"""The backups of one project, and what a DELETE does to them.

A DELETE checks that every backup it names may go (not registered to an image, nothing running on it,
status ``available`` or ``error``; and not one of the scenario's ``busy_first_deletes`` of that backup or
record), then queues one ``DeletionTask`` and returns. When the task ends, its backups vanish (404), linger
as ``deleted`` first, or fail to ``error``, as the scenario says. Readers get each backup as it looks now,
including the scenario's ``status_lag_s`` (and, with ``progress_reported`` off, a progress of 0).

The task fields move as the API shows them: a queued or running deletion shows its own new
``extend_info.taskid`` and an ``updated_at`` of when it was queued or started; a failed one keeps that
``taskid`` and sets ``updated_at`` and ``extend_info.finished_at`` to the failure time. A backup seeded as
a stale failure shows all of that from an earlier deletion, an hour old.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from worker.emulator.core.backup import DELETABLE, reidentify
from worker.emulator.core.listing import SortedListings
from worker.emulator.core.stats import Stats
from worker.emulator.core.tasks import BusyFirst, DeletionTask, TaskBoard, TaskOwner
from worker.emulator.core.timebase import TimeBase
from worker.emulator.csbs import errors
from worker.emulator.csbs.model import Item, Rendering, Shown, View, render
from worker.emulator.csbs.query import Query, cacheable, matches, page, sorted_items
from worker.emulator.csbs.scenario import Scenario

DELETE_FAIL_REASON = "Delete backup failed: the backup storage did not release the snapshot data."
DELETE_FAIL_CODE = {"Code": "2006", "Description": "delete checkpoint failed"}
STALE_FAIL_REASON = "Delete backup failed: the backup task was interrupted."
STALE_FAILURE_AGE_S = 3600.0  # how long before seeding a stale failure happened


class BackupStore:
    """Items by id, records by checkpoint id, and the rules of deletion, for one project.

    Args:
        scenario: the switches (gone_mode, busy_mode, status_lag_s, fail/stuck/image items...).
        project_id: the project it holds.
        timebase: the injected clock and its wall time.
        rng: seeded randomness for task durations and fates.
        stats: where task starts and ends are counted.
        board: where its deletions queue (the emulator's, maybe shared).
    """

    def __init__(self, scenario: Scenario, project_id: str, timebase: TimeBase, rng: random.Random, stats: Stats,
                 board: TaskBoard) -> None:
        self.project_id = project_id
        self._scenario = scenario
        self._time = timebase
        self._rng = rng
        self._items: dict[str, Item] = {}
        self._records: dict[str, list[str]] = {}
        self._tombstones: dict[str, View] = {}  # where vanished items stood, so their ids stay valid markers
        self._lingering: set[str] = set()  # ``deleted`` items waiting for their purge_at
        self._listings: SortedListings[Item] = SortedListings(lambda item: item.id)
        self._rendering = Rendering(scenario.progress_format, scenario.fail_code_numeric)
        self.board = board
        self._owner = TaskOwner(self._task_ended, stats)
        self._busy_first = BusyFirst(scenario.busy_first_deletes, stats)

    # -- reading -------------------------------------------------------------------------------------

    def advance(self) -> float:
        """Bring tasks and lingering items up to now; returns now."""
        now = self._time.now()
        self.board.advance(now)
        for item_id in sorted(self._lingering):
            item = self._items[item_id]
            if item.purge_at is not None and item.purge_at <= now:
                self._remove(item, item.purge_at)
        return now

    def get(self, item_id: str, as_seen: bool = True) -> dict[str, Any]:
        """One backup's JSON; 404 CSBS.3001 if it does not exist (any more)."""
        now = self.advance()
        item = self._items.get(item_id)
        if item is None:
            raise errors.not_found(item_id)
        return render(self._view(item, now, as_seen), self._rendering)

    def select(self, query: Query) -> list[dict[str, Any]]:
        """One page of the list."""
        now = self.advance()
        if cacheable(query):  # the answer depends only on which backups exist: sorted once, not per page
            cached = self._listings.page(query.listing_key, lambda: sorted_items(self._items.values(), query),
                                         query.marker, query.offset, query.limit)
            if cached is not None:
                return [render(self._view(item, now), self._rendering) for item in cached[0]]
        views = [self._view(item, now) for item in self._items.values()]
        return [render(view, self._rendering) for view in page(views, query, self._marker_view)]

    def count(self, query: Query) -> int:
        """How many backups pass the filters (paging ignored)."""
        now = self.advance()
        return sum(1 for item in self._items.values() if matches(query, self._view(item, now)))

    def snapshot(self, as_seen: bool = False) -> list[dict[str, Any]]:
        """Every backup now, in insertion order (for tests); ``as_seen`` applies the status lag."""
        now = self.advance()
        return [render(self._view(item, now, as_seen), self._rendering) for item in self._items.values()]

    # -- writing -------------------------------------------------------------------------------------

    def known(self, item_id: str) -> bool:
        """True if the id is taken, by a backup that exists or one that did."""
        return item_id in self._items or item_id in self._tombstones

    def replace_identity(self, item_id: str, created_at: datetime | None, resource_id: str | None) -> None:
        """Another creation time or resource for an existing backup (``BaseEmulator.replace_identity``)."""
        reidentify(self._items[item_id], created_at, resource_id)
        self._listings.changed()  # the cached listings sorted it by its old time

    def add(self, item: Item, stale_delete_failure: bool = False) -> dict[str, Any]:
        """Store a new backup; its id must be new. A stale failure (or a ``stale_failed_items`` id) starts
        as left by an earlier failed deletion."""
        if self.known(item.id):
            raise ValueError(f"backup {item.id} already exists")
        if stale_delete_failure or item.id in self._scenario.stale_failed_items:
            self._mark_stale_failure(item)
        if item.id in self._scenario.image_items:
            item.image_registered = True
        if item.image_registered and not item.image_id:
            item.image_id = str(uuid.uuid5(uuid.NAMESPACE_OID, item.id))  # stable, no draw from the rng
        self._items[item.id] = item
        self._listings.changed()
        self._records.setdefault(item.checkpoint_id, []).append(item.id)
        return render(self._view(item, self._time.now()), self._rendering)

    def delete_record(self, checkpoint_id: str, user: str) -> None:
        """Queue one task for every backup of the record; 404 if none is left."""
        now = self.advance()
        items = self._live_items(checkpoint_id)
        if not items:
            raise errors.not_found(checkpoint_id)
        self._check_deletable(items, ("record", checkpoint_id))
        self._queue(user, items, now)

    def delete_item(self, checkpoint_id: str, item_id: str, user: str) -> None:
        """Queue a task for one backup of the record; 404 if it is not (any more) in that record."""
        now = self.advance()
        items = [i for i in self._live_items(checkpoint_id) if i.id == item_id]
        if not items:
            raise errors.not_found(item_id)
        self._check_deletable(items, ("item", item_id))
        self._queue(user, items, now)

    # -- inside --------------------------------------------------------------------------------------

    def _live_items(self, checkpoint_id: str) -> list[Item]:
        """The record's backups that have not been deleted (lingering ``deleted`` ones are gone)."""
        ids = self._records.get(checkpoint_id, [])
        return [self._items[i] for i in ids if i in self._items and self._items[i].status != "deleted"]

    def _check_deletable(self, items: Sequence[Item], target: tuple[str, str]) -> None:
        """Refuse the DELETE of ``target`` (``("record", id)`` or ``("item", id)``) unless all ``items`` may go."""
        for item in items:
            if item.image_registered:
                raise errors.image_registered(item.id)
        for item in items:
            if item.task is not None or item.status not in DELETABLE:
                raise errors.busy(item.id, self._scenario.busy_mode)
        if self._busy_first.refuses(target):
            raise errors.busy(items[0].id, self._scenario.busy_mode)

    def _queue(self, user: str, items: list[Item], now: float) -> None:
        task = self._new_task(user, tuple(i.id for i in items), now)
        for item in items:
            item.task = task
        self.board.submit(task, self._owner)

    def _new_task(self, user: str, item_ids: tuple[str, ...], now: float) -> DeletionTask:
        s, rng = self._scenario, self._rng
        duration = rng.uniform(*s.delete_duration_s)
        failing = frozenset(i for i in item_ids if i in s.fail_items or (s.fail_rate and rng.random() < s.fail_rate))
        stuck = any(i in s.stuck_items for i in item_ids) or bool(s.stuck_rate and rng.random() < s.stuck_rate)
        return DeletionTask(
            task_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            user=user, item_ids=item_ids, queued_at=now, duration_s=duration, failing=failing,
            stuck_at=rng.uniform(0.1, 0.9) if stuck else None, odd_items=self._odd_items(item_ids),
            reports_progress=s.progress_reported,
        )

    def _odd_items(self, item_ids: tuple[str, ...]) -> frozenset[str]:
        """The task's backups that show the scenario's odd status (the coin is tossed only with a rate)."""
        odd = self._scenario.odd_status
        if odd is None:
            return frozenset()
        if odd.rate and self._rng.random() < odd.rate:
            return frozenset(item_ids)
        return frozenset(i for i in item_ids if i in odd.items)

    def _mark_stale_failure(self, item: Item) -> None:
        """Make ``item`` look as an earlier deletion left it when it failed (a crashed run's, say)."""
        failed_at = self._time.wall() - timedelta(seconds=STALE_FAILURE_AGE_S)
        # A backup made after its own failed deletion cannot be: a newer one is dated back before it.
        item.created_at = min(item.created_at, failed_at - timedelta(minutes=5))
        item.status, item.progress = "error", 0
        item.fail_op, item.fail_reason, item.fail_code = "delete", STALE_FAIL_REASON, dict(DELETE_FAIL_CODE)
        item.updated_at = item.finished_at = failed_at
        item.taskid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"stale-delete:{item.id}"))  # stable, no rng draw

    def _task_ended(self, task: DeletionTask) -> None:
        """Apply a task's result to its backups at its end time."""
        end = task.ended_at if task.ended_at is not None else self._time.now()
        for item_id in task.item_ids:
            item = self._items.get(item_id)
            if item is None:
                continue
            item.task, item.taskid, item.updated_at = None, task.task_id, self._time.wall(end)
            if item_id in task.failing:
                item.status, item.progress, item.finished_at = "error", 0, self._time.wall(end)
                item.fail_op, item.fail_reason, item.fail_code = "delete", DELETE_FAIL_REASON, dict(DELETE_FAIL_CODE)
            elif self._scenario.gone_mode == "deleted":
                item.status, item.purge_at = "deleted", end + self._scenario.deleted_linger_s
                self._lingering.add(item_id)
                item.fail_op, item.fail_reason, item.fail_code = "", "", {}
            else:
                self._remove(item, end)

    def _remove(self, item: Item, at: float) -> None:
        self._tombstones[item.id] = self._view(item, at)
        self._lingering.discard(item.id)
        del self._items[item.id]
        self._listings.changed()

    def _marker_view(self, item_id: str) -> View | None:
        """Where the marker's backup stands; a vanished one answers 404 if the scenario says so."""
        item = self._items.get(item_id)
        if item is not None:
            return self._view(item, self._time.now())
        if item_id in self._tombstones and self._scenario.vanished_marker == "404":
            raise errors.marker_not_found(item_id)
        return self._tombstones.get(item_id)

    def _view(self, item: Item, now: float, as_seen: bool = True) -> View:
        """The item as a reader sees it at ``now``; during ``status_lag_s`` after a DELETE, as before it."""
        task = item.task
        lagging = as_seen and task is not None and now < task.queued_at + self._scenario.status_lag_s
        if task is None or lagging:
            updated: datetime = item.updated_at or item.finished_at or item.created_at
            return item, Shown(item.status, item.progress, updated, item.taskid)
        odd = self._scenario.odd_status
        odd_status = odd.status if odd is not None and item.id in task.odd_items else None
        if task.started_at is None:
            return item, Shown(odd_status or "waiting_delete", 0, self._time.wall(task.queued_at), task.task_id)
        shown_status = odd_status or "deleting"
        return item, Shown(shown_status, task.progress(now), self._time.wall(task.started_at), task.task_id)
