"""One pool of slots over several lanes (a fleet user's targets), in virtual time against a scripted cloud: the
limit over every lane, turns, work conservation, a lane aborting alone, refused credentials ending the pool, and
deletions already running in any lane going first (docs/fleet.md, "One pool per user").

Both lanes' runners talk to one ``FakeCloud`` (the user's provider): its calls give the outstanding count over
both. Tracking as ``helpers.POLICY``: first look 5 s after the DELETE, then every 10 s.
"""

from __future__ import annotations

from collections.abc import Sequence

from structlog.typing import EventDict

from tests.unit.fake_cloud import FakeCloud, forbidden, gone, http, most_outstanding, running
from tests.unit.helpers import CLOCK, RecordingResults, Spec, csbs_runner, events, item
from tests.virtual_time import run_virtual
from worker.engine.adoption import ForeignDeletion
from worker.engine.scheduler import Lane, Scheduler
from worker.services.csbs.service import SERVICE


def lane_of(cloud: FakeCloud, name: str, plan: Sequence[Spec], **extra: object) -> Lane:
    return Lane(csbs_runner(cloud), RecordingResults(plan), log_ids=SERVICE.log_ids, fields={"target": name},
                **extra)  # type: ignore[arg-type]


def pool_run(lanes: Sequence[Lane], concurrency: int = 5) -> Scheduler:
    async def main() -> Scheduler:
        pool = Scheduler.pool(lanes, concurrency=concurrency, grace_s=30.0, clock=CLOCK, hold_s=300.0)
        await pool.run_lanes()
        return pool
    return run_virtual(main())


def outcomes(lane: Lane) -> list[str]:
    return [row["outcome"] for row in lane.results.iter_json()]


def backups(cloud: FakeCloud, prefix: str, count: int, seconds: float = 30.0) -> list[Spec]:
    for n in range(count):
        cloud.add(f"{prefix}{n}", deletions=[[running(seconds), gone()]])
    return [item(f"{prefix}{n}") for n in range(count)]


def delete_order(cloud: FakeCloud) -> list[str]:
    return [call.target for call in cloud.calls if call.op.startswith("delete")]


def test_five_over_every_lane_taken_in_turn_and_every_backup_gone() -> None:
    """A big lane (12) and a small one (3), five slots: never more than five outstanding over both; the lanes
    take turns, so the small lane's three go out among the first six DELETEs, not after the big one's twelve."""
    cloud = FakeCloud(CLOCK)
    big, small = lane_of(cloud, "big", backups(cloud, "a", 12)), lane_of(cloud, "small", backups(cloud, "b", 3))
    pool = pool_run([big, small])
    assert cloud.max_outstanding() == 5
    assert delete_order(cloud)[:6] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert outcomes(big) == ["deleted"] * 12 and outcomes(small) == ["deleted"] * 3
    assert pool.aborted is None and pool.progress.finished == 15


def test_a_slot_freed_in_one_lane_goes_to_another_with_work() -> None:
    """The small lane runs dry after its two tasks: the big lane then holds all five slots (work conserving)."""
    cloud = FakeCloud(CLOCK)
    big, small = lane_of(cloud, "big", backups(cloud, "a", 10)), lane_of(cloud, "small", backups(cloud, "b", 2))
    pool_run([big, small])
    big_calls = [call for call in cloud.calls if call.target.startswith("a")]
    assert most_outstanding(big_calls) == 5
    assert cloud.max_outstanding() == 5


def test_a_refused_project_ends_its_lane_alone(logs: list[EventDict]) -> None:
    """The small lane's second DELETE is refused 403: that task failed with the refusal, the lane's task in flight
    is cut off (timed_out, the refusal's code), its unsent ones stay not_attempted; the other lane goes on and
    deletes everything, and the pool is not aborted."""
    cloud = FakeCloud(CLOCK)
    big = lane_of(cloud, "big", backups(cloud, "a", 6))
    plan = backups(cloud, "b", 4, seconds=300.0)
    cloud.backups["b1"].delete_answers.append(forbidden())
    small = lane_of(cloud, "small", plan)
    pool = pool_run([big, small])
    assert outcomes(big) == ["deleted"] * 6
    assert outcomes(small) == ["timed_out", "failed", "not_attempted", "not_attempted"]
    rows = list(small.results.iter_json(SERVICE.id_keys))
    assert [rows[0]["error_code"], rows[1]["error_code"], rows[1]["http_status"]] == ["CSBS.1020", "CSBS.1020", 403]
    assert small.aborted is not None and pool.aborted is None
    assert [entry["target"] for entry in events(logs, "target_aborted")] == ["small"]
    assert events(logs, "run_aborted") == []
    assert cloud.calls_of("b2") == [] and cloud.calls_of("b3") == []


def test_refused_credentials_end_every_lane(logs: list[EventDict]) -> None:
    """A 401 (the credentials, shared by every lane of the user) ends the pool: the other lane's tasks in flight
    are timed_out with the refusal's code, the rest not_attempted."""
    cloud = FakeCloud(CLOCK)
    big = lane_of(cloud, "big", backups(cloud, "a", 6, seconds=300.0))
    plan = backups(cloud, "b", 3)
    cloud.backups["b1"].delete_answers.append(http(401, "APIG.1002", "Incorrect token or token resolution failed"))
    small = lane_of(cloud, "small", plan)
    pool = pool_run([big, small])
    assert pool.aborted is not None and str(pool.aborted.scope) == "user"
    assert outcomes(big) == ["timed_out", "timed_out", "timed_out", "not_attempted", "not_attempted", "not_attempted"]
    assert outcomes(small) == ["timed_out", "failed", "not_attempted"]
    assert {row["error_code"] for row in big.results.iter_json() if row["outcome"] == "timed_out"} == {"APIG.1002"}
    assert len(events(logs, "run_aborted")) == 1


def test_deletions_already_running_in_any_lane_take_slots_first() -> None:
    """Two slots. The big lane has a foreign deletion running until 50 s, the small lane an adopted one until
    40 s: both hold the slots before any new DELETE, of either lane, goes out."""
    cloud = FakeCloud(CLOCK)
    cloud.add("x9", before=[running(50), gone()], since=0.0)
    big = lane_of(cloud, "big", backups(cloud, "a", 2), foreign=[ForeignDeletion("cp-x9", "x9")])
    cloud.add("b0", before=[running(40), gone()], since=0.0)
    small = lane_of(cloud, "small", [item("b0"), *backups(cloud, "c", 1)], adopted=frozenset({0}))
    pool_run([big, small], concurrency=2)
    first_delete = min(call.at for call in cloud.calls if call.op.startswith("delete"))
    assert first_delete >= 40.0  # the adopted one was seen gone (at its look after 40 s) before any new DELETE
    assert cloud.calls_of("b0", "delete_item") == []
    assert outcomes(big) == ["deleted", "deleted"] and outcomes(small) == ["deleted", "deleted"]
