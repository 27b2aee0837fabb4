"""What the emulated cloud saw: requests, answers, DELETE targets, and the deletion tasks it ran.

Tests and benchmarks read these to assert what the cloud received (not what the client thinks it sent).
Times are clock seconds of the emulator's injected clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping


class Stats:
    """Counters of one emulator; read them through ``Emulator.stats`` so task state is current."""

    def __init__(self) -> None:
        self.requests_by_route: Counter[str] = Counter()  #: every request, faulted and refused ones too
        self.responses_by_status: Counter[int] = Counter()  #: every answer sent (dropped ones are not)
        self.deletes_by_target: Counter[str] = Counter()  #: item id (?checkpoint_items) or record id
        #: injected faults that fired, by kind; ``busy-first``: DELETEs answered busy by ``busy_first_deletes``
        self.faults_by_kind: Counter[str] = Counter()
        self.task_running_seconds = 0.0  #: summed running time of ended tasks (server side)
        self.tasks_started = 0
        self.tasks_finished = 0
        self.first_task_start: float | None = None
        self.last_task_end: float | None = None
        self._outstanding: Callable[[str], int] = lambda user: 0
        self._high_water: Mapping[str, int] = {}

    @property
    def max_outstanding(self) -> dict[str, int]:
        """Per user, the most tasks ever waiting and running at once on the emulator's task board (a shared
        board's: over every emulator and project on it, as the cloud's per-user queue counts them)."""
        return dict(self._high_water)

    def outstanding(self, user: str) -> int:
        """Tasks of ``user`` waiting or running now (on the whole board, when it is shared)."""
        return self._outstanding(user)

    def bind_board(self, outstanding: Callable[[str], int], high_water: Mapping[str, int]) -> None:
        """Let ``outstanding`` ask the live task board (which advances to now before it answers), and
        ``max_outstanding`` read the board's high-water marks."""
        self._outstanding = outstanding
        self._high_water = high_water

    def note_request(self, route: str, delete_target: str | None) -> None:
        """Count a request as it arrives, before any fault or check."""
        self.requests_by_route[route] += 1
        if delete_target is not None:
            self.deletes_by_target[delete_target] += 1

    def note_task_start(self, at: float) -> None:
        """A task left the queue and started running at ``at``."""
        self.tasks_started += 1
        if self.first_task_start is None or at < self.first_task_start:
            self.first_task_start = at

    def note_task_end(self, started_at: float, ended_at: float) -> None:
        """A task ended (done or failed) at ``ended_at`` after running since ``started_at``."""
        self.tasks_finished += 1
        self.task_running_seconds += ended_at - started_at
        if self.last_task_end is None or ended_at > self.last_task_end:
            self.last_task_end = ended_at

    def __repr__(self) -> str:
        return (
            f"<Stats requests={sum(self.requests_by_route.values())} started={self.tasks_started}"
            f" finished={self.tasks_finished} max_outstanding={self.max_outstanding}>"
        )
