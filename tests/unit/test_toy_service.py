"""A third service needs only its rules: a toy "EVS snapshots" service, plugged into the engine in a few lines.

The seam (``worker.engine.tracking``): a service gives the loop ``send`` (one DELETE), ``look`` (one look) and
``read`` (what a look's body says, as a ``Sighting``); ``BaseRules`` gives the optional hooks (a check before
the DELETE, busy caps, a re-send cap and its verdict) as "none". Everything else (retries, pacing, the lag
window and re-sends, outcomes, timeouts, the slots and their holds) is the engine's, unchanged.

The toy cloud is a few lines too: snapshots in ``available``, ``deleting`` or ``error_deleting``, gone (404)
once deleted; each call answered as an engine ``Answer``. Time is virtual (``tests/virtual_time.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.helpers import CLOCK, POLICY, Spec
from tests.virtual_time import run_virtual
from worker.engine.answer import Answer, AnswerKind
from worker.engine.outcomes import Outcome, TaskEnd
from worker.engine.report import Results
from worker.engine.scheduler import Scheduler
from worker.engine.sighting import Seen, Sighting
from worker.engine.tracking import BaseRules, Ending, TaskRunner, TaskSpec, TaskTrace

# -- the toy cloud -----------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """One snapshot's script: a taken DELETE runs ``seconds``, then the snapshot is gone or stays in ``ends``
    (``error_deleting``, or ``deleting`` for ever); the first ``drops`` DELETEs are silently dropped."""

    seconds: float = 20.0
    ends: str = "gone"
    drops: int = 0
    exists: bool = True
    deleting_since: float | None = None

    def status(self, now: float) -> str | None:
        if not self.exists:
            return None
        if self.deleting_since is None:
            return "available"
        if now < self.deleting_since + self.seconds:
            return "deleting"
        return None if self.ends == "gone" else self.ends


class FakeEvs:
    """Snapshots by id; every DELETE recorded, and the most deletions ever running at once."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.deletes: list[tuple[float, str]] = []
        self.most_deleting = 0

    async def delete(self, snapshot_id: str) -> Answer:
        now, snapshot = CLOCK.now(), self.snapshots[snapshot_id]
        self.deletes.append((now, snapshot_id))
        status = snapshot.status(now)
        if status is None:
            return Answer(AnswerKind.GONE, 404, "EVS.404", "snapshot not found")
        if status == "deleting":
            return Answer(AnswerKind.BUSY, 409, "EVS.409", "snapshot is being deleted")
        if snapshot.drops:
            snapshot.drops -= 1
        else:
            snapshot.deleting_since = now
            running = sum(s.status(now) == "deleting" for s in self.snapshots.values())
            self.most_deleting = max(self.most_deleting, running)
        return Answer(AnswerKind.OK, 202)

    async def get(self, snapshot_id: str) -> Answer:
        status = self.snapshots[snapshot_id].status(CLOCK.now())
        if status is None:
            return Answer(AnswerKind.GONE, 404, "EVS.404", "snapshot not found")
        return Answer(AnswerKind.OK, 200, data={"id": snapshot_id, "status": status})


# -- the service: its rules are all the engine needs -------------------------------------------------------

SEEN = {"available": Seen.UNTOUCHED, "deleting": Seen.RUNNING, "error_deleting": Seen.FAILED}


class EvsRules(BaseRules):
    """EVS snapshots: one DELETE, one GET, and the statuses read into the engine's words."""

    def __init__(self, evs: FakeEvs) -> None:
        self.evs = evs

    async def send(self, spec: TaskSpec) -> Answer:
        return await self.evs.delete(spec.container_id)

    async def look(self, spec: TaskSpec, deadline: float) -> Answer:
        return await self.evs.get(spec.container_id)

    def read(self, spec: TaskSpec, data: Any) -> Sighting:
        status = data["status"]
        failed = status == "error_deleting"
        return Sighting(SEEN.get(status, Seen.UNKNOWN), status=status, fail_code="error_deleting" if failed else None,
                        fail_reason="the snapshot could not be deleted" if failed else None)


# -- the runs ----------------------------------------------------------------------------------------------

def evs_with(**snapshots: Snapshot) -> FakeEvs:
    evs = FakeEvs()
    evs.snapshots.update(snapshots)
    return evs


def follow(evs: FakeEvs, snapshot_id: str) -> tuple[Ending, float]:
    """One task through ``TaskRunner``, from instant 0: its ending and when."""
    async def main() -> tuple[Ending, float]:
        spec = Spec(snapshot_id, None)
        ending = await TaskRunner(EvsRules(evs), POLICY, CLOCK).run(spec, TaskTrace(snapshot_id, None, 0.0))
        return ending, CLOCK.now()
    return run_virtual(main())


@pytest.mark.parametrize(("snapshot", "ending", "ended_at"), [
    (Snapshot(seconds=20.0), TaskEnd(Outcome.DELETED), 25.0),
    (Snapshot(exists=False), TaskEnd(Outcome.ALREADY_ABSENT), 0.0),
    (Snapshot(ends="error_deleting"), TaskEnd(Outcome.FAILED, "error_deleting", "the snapshot could not be deleted"),
     25.0),
    (Snapshot(seconds=math.inf), TaskEnd(Outcome.TIMED_OUT, "task_timeout",
                                         "not seen to end within 600 s (last seen 'deleting')"), 600.0),
], ids=["deleted", "already_absent", "failed", "timed_out"])
def test_each_outcome(snapshot: Snapshot, ending: TaskEnd, ended_at: float) -> None:
    """Looks at 5, 15, 25 s...: a 20 s deletion is seen gone (or failed) at 25 s; a stuck one times out."""
    assert follow(evs_with(s1=snapshot), "s1") == (ending, ended_at)


def test_a_dropped_delete_is_resent_after_the_lag_window() -> None:
    """The first DELETE is dropped: the snapshot stays available; re-sent at the first look past the 60 s lag
    window (65 s), then deleted (gone at 85 s)."""
    evs = evs_with(s1=Snapshot(drops=1))
    assert follow(evs, "s1") == (TaskEnd(Outcome.DELETED), 85.0)
    assert evs.deletes == [(0.0, "s1"), (65.0, "s1")]


def test_through_five_slots_never_more_than_five_deletions_run() -> None:
    """Twelve snapshots through the scheduler's five slots: every outcome as alone, and the fake never sees
    more than five deletions running at once (the stuck one keeps its slot, held, then lost)."""
    evs = evs_with(**{f"s{n}": Snapshot(seconds=10.0 + 7.0 * n) for n in range(9)},
                   absent=Snapshot(exists=False), broken=Snapshot(ends="error_deleting"),
                   stuck=Snapshot(seconds=math.inf))
    plan = [Spec(name, None) for name in evs.snapshots]
    results = Results(plan)

    async def main() -> None:
        runner = TaskRunner(EvsRules(evs), POLICY, CLOCK)
        await Scheduler(runner, results, concurrency=5, grace_s=30.0, clock=CLOCK, hold_s=60.0,
                        hold_poll_s=30.0).run(plan)

    run_virtual(main())
    assert [row["outcome"] for row in results.iter_json()] == ["deleted"] * 9 + [
        "already_absent", "failed", "timed_out"]
    assert evs.most_deleting == 5
