"""Deletion tasks and the per-user queue: at most N run at once, the rest wait their turn.

Nothing runs in the background. ``TaskBoard.advance(now)`` replays what happened up to ``now`` in time
order: each running task ends at its exact end time, and the first waiting task of that user starts at
that very instant. So the board is deterministic under an injected clock, and the running time it
accounts is exact, however rarely the emulator is asked.

Two switches of both faces' scenarios live here too, so that both faces read them alike: a service that
reports no progress (``DeletionTask.reports_progress``), and one that answers the first DELETEs of each
backup busy (``BusyFirst``).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from worker.emulator.core.stats import Stats


@dataclass(eq=False)
class DeletionTask:
    """One DELETE: a whole record or one backup, queued for one user.

    Args:
        task_id: shown as ``extend_info.taskid`` of its backups.
        user: whose five slots it takes.
        item_ids: the backups it deletes (all of a record, or one).
        queued_at: clock time of the DELETE.
        duration_s: running time once started.
        failing: backups whose deletion ends in ``error`` when the task ends.
        stuck_at: for a stuck task, the fraction of progress where it freezes forever; None otherwise.
        odd_items: backups that show the scenario's undocumented ``odd_status`` while this task holds them.
        reports_progress: False for a service that reports no progress: ``progress`` stays 0 throughout
            (the task still ends after ``duration_s``).
    """

    task_id: str
    user: str
    item_ids: tuple[str, ...]
    queued_at: float
    duration_s: float
    failing: frozenset[str] = frozenset()
    stuck_at: float | None = None
    odd_items: frozenset[str] = frozenset()
    reports_progress: bool = True
    started_at: float | None = field(default=None, init=False)
    ended_at: float | None = field(default=None, init=False)

    @property
    def ends_at(self) -> float | None:
        """When it will end: None while waiting, and forever None for a stuck task."""
        if self.started_at is None or self.stuck_at is not None:
            return None
        return self.started_at + self.duration_s

    @property
    def running(self) -> bool:
        """Started and not ended."""
        return self.started_at is not None and self.ended_at is None

    def progress(self, now: float) -> int:
        """Percent done: 0 while waiting, rising with elapsed/duration, frozen for a stuck task; always 0 if
        the service reports no progress."""
        if self.started_at is None or not self.reports_progress:
            return 0
        until = now if self.ended_at is None else min(now, self.ended_at)
        fraction = 1.0 if self.duration_s <= 0 else (until - self.started_at) / self.duration_s
        if self.stuck_at is not None:
            fraction = min(fraction, self.stuck_at)
        return max(0, min(100, int(fraction * 100)))


class BusyFirst:
    """The first ``n`` DELETEs of each backup that would start its deletion are answered busy instead, and
    start nothing: the backup is briefly in use, or the service's queue refuses.

    Args:
        n: the scenario's ``busy_first_deletes`` (0: never busy).
        stats: counts each such answer in ``faults_by_kind["busy-first"]``.
    """

    KIND = "busy-first"

    def __init__(self, n: int, stats: Stats) -> None:
        self._n = n
        self._stats = stats
        self._seen: Counter[Hashable] = Counter()

    def refuses(self, target: Hashable) -> bool:
        """True if this DELETE of ``target`` (a backup, or a CSBS record: a key the face keeps apart from
        its backups') is one of its first ``n``; the face then answers its busy error. Ask only once every
        other check let the DELETE through."""
        if self._seen[target] >= self._n:
            return False
        self._seen[target] += 1
        self._stats.faults_by_kind[self.KIND] += 1
        return True


class TaskBoard:
    """The queue and the running slots of every user.

    Args:
        slots_per_user: tasks that run at once per user (five on CSBS).
        on_end: called once per task when it ends, in end-time order, to apply its result.
        stats: receives starts, ends and the outstanding high-water mark.
    """

    def __init__(self, slots_per_user: int, on_end: Callable[[DeletionTask], None], stats: Stats) -> None:
        self._slots = slots_per_user
        self._on_end = on_end
        self._stats = stats
        self._waiting: dict[str, deque[DeletionTask]] = {}
        self._running: dict[str, list[DeletionTask]] = {}

    def submit(self, task: DeletionTask) -> None:
        """Queue a task at ``task.queued_at`` (the board must be advanced to that time first)."""
        self._waiting.setdefault(task.user, deque()).append(task)
        self._running.setdefault(task.user, [])
        self._fill(task.user, task.queued_at)
        self._stats.note_outstanding(task.user, self.outstanding(task.user))

    def advance(self, now: float) -> None:
        """Replay every task end (and the start it frees) up to ``now``."""
        for user in list(self._running):
            self._advance_user(user, now)

    def outstanding(self, user: str) -> int:
        """Tasks of ``user`` waiting or running (stuck ones included) as of the last advance."""
        return len(self._waiting.get(user, ())) + len(self._running.get(user, ()))

    def tasks(self) -> Iterable[DeletionTask]:
        """Every task not yet ended."""
        for user, running in self._running.items():
            yield from running
            yield from self._waiting.get(user, ())

    def _advance_user(self, user: str, now: float) -> None:
        running = self._running[user]
        while True:
            due = [t for t in running if t.ends_at is not None and t.ends_at <= now]
            if not due:
                return
            task = min(due, key=lambda t: t.ends_at or 0.0)
            end = task.ends_at or 0.0
            running.remove(task)
            task.ended_at = end
            self._stats.note_task_end(task.started_at or end, end)
            self._on_end(task)
            self._fill(user, end)

    def _fill(self, user: str, at: float) -> None:
        """Start waiting tasks while slots are free; a slot freed at ``at`` is taken at ``at``."""
        running = self._running[user]
        waiting = self._waiting[user]
        while waiting and len(running) < self._slots:
            task = waiting.popleft()
            task.started_at = max(at, task.queued_at)
            running.append(task)
            self._stats.note_task_start(task.started_at)
