"""Deletion tasks and the per-user queue: at most N run at once, the rest wait their turn.

Nothing runs in the background. ``TaskBoard.advance(now)`` replays what happened up to ``now`` in time
order: each running task ends at its exact end time, and the first waiting task of that user starts at
that very instant. So the board is deterministic under an injected clock, and the running time it
accounts is exact, however rarely the emulator is asked.

One board may serve several stores: the projects of one emulator, and several emulators in one process
(a CSBS and a CBR one, or one per region), as the cloud keeps one queue per IAM user across projects,
regions and both services. Each task then carries its ``TaskOwner``, the store that applies its end and
the stats that count it; the board keeps the user's high-water mark over everything it holds.

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


@dataclass(frozen=True)
class TaskOwner:
    """Whose a task is, on a board that several stores may share.

    Args:
        on_end: called once when the task ends, in end-time order, to apply its result to the store.
        stats: counts the task's start and end (its emulator's).
    """

    on_end: Callable[[DeletionTask], None]
    stats: Stats


class TaskBoard:
    """The queue and the running slots of every user, for one store or for several that share it.

    Stores that share a board must read one clock: the board compares the times they give it.

    Args:
        slots_per_user: tasks that run at once per user (five in the cloud).
    """

    def __init__(self, slots_per_user: int) -> None:
        if slots_per_user < 1:
            raise ValueError(f"slots_per_user must be at least 1, got {slots_per_user}")
        self.slots_per_user = slots_per_user
        #: per user, the most tasks ever waiting and running at once, over every store on the board
        self.max_outstanding: dict[str, int] = {}
        #: per user, the tasks ended and their running seconds summed, over every store on the board (a
        #: user's pool spans stores: its utilization needs them per user, not per store)
        self.ended_by_user: Counter[str] = Counter()
        self.running_s_by_user: dict[str, float] = {}
        self._owners: dict[DeletionTask, TaskOwner] = {}
        self._waiting: dict[str, deque[DeletionTask]] = {}
        self._running: dict[str, list[DeletionTask]] = {}

    def submit(self, task: DeletionTask, owner: TaskOwner) -> None:
        """Queue ``owner``'s task at ``task.queued_at`` (the board must be advanced to that time first)."""
        self._owners[task] = owner
        self._waiting.setdefault(task.user, deque()).append(task)
        self._running.setdefault(task.user, [])
        self._fill(task.user, task.queued_at)
        outstanding = self.outstanding(task.user)  # only a submit adds one, so the mark is exact here
        self.max_outstanding[task.user] = max(self.max_outstanding.get(task.user, 0), outstanding)

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
            owner = self._owners.pop(task)
            owner.stats.note_task_end(task.started_at or end, end)
            self.ended_by_user[user] += 1
            self.running_s_by_user[user] = self.running_s_by_user.get(user, 0.0) + end - (task.started_at or end)
            owner.on_end(task)
            self._fill(user, end)

    def _fill(self, user: str, at: float) -> None:
        """Start waiting tasks while slots are free; a slot freed at ``at`` is taken at ``at``."""
        running = self._running[user]
        waiting = self._waiting[user]
        while waiting and len(running) < self.slots_per_user:
            task = waiting.popleft()
            task.started_at = max(at, task.queued_at)
            running.append(task)
            self._owners[task].stats.note_task_start(task.started_at)
