"""Deleting a CBR backup: gone with its children, and every reading of the silent points on asynchrony,
failure, repeats and operation logs (the task board itself is the core's: ``core/test_tasks.py``)."""

from __future__ import annotations

from tests.emulator.cbr.conftest import USER, FakeClock, cloud, scenario
from worker.emulator.cbr import CbrEmulator


async def test_a_delete_is_queued_then_running_then_gone_with_its_children(clock: FakeClock) -> None:
    """The user sees 204, then waiting_delete past the five running, deleting with rising progress, then 404."""
    emu = CbrEmulator(scenario(delete_duration_s=(10.0, 10.0)), seed=1, clock=clock)
    ids = [str(emu.add_backup(children=1)["id"]) for _ in range(6)]
    child = emu.backup(ids[0])["children"][0]["id"]  # type: ignore[index]
    async with cloud(emu) as c:
        for backup_id in ids:
            reply = await c.delete(backup_id)
            assert (reply.status, reply.body) == (204, None)
        assert [await c.status_of(i) for i in ids] == ["deleting"] * 5 + ["waiting_delete"]
        clock.advance(5)
        running = (await c.get(ids[0])).body["backup"]
        assert running["extend_info"]["progress"] == 50
        clock.advance(5)
        gone = await c.get(ids[0])
        assert (gone.status, gone.body["error_code"]) == (404, "BackupService.6200")
        assert await c.status_of(child) == 404
        assert await c.status_of(ids[5]) == "deleting"  # the freed slot was taken at once
        clock.advance(10)
        assert [await c.status_of(i) for i in ids] == [404] * 6
    assert emu.stats.max_outstanding[USER] == 6
    assert emu.stats.deletes_by_target[ids[0]] == 1


async def test_sync_mode_deletes_at_the_204(clock: FakeClock) -> None:
    """With delete_mode sync, the backup is already gone when the DELETE answers."""
    emu = CbrEmulator(scenario(delete_mode="sync"), seed=1, clock=clock)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as c:
        assert (await c.delete(backup_id)).status == 204
        assert await c.status_of(backup_id) == 404


async def test_a_delete_may_answer_200_or_202_with_a_body(clock: FakeClock) -> None:
    """Point 4: the success status is a switch; the body is JSON then."""
    emu = CbrEmulator(scenario(delete_status=202), seed=1, clock=clock)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as c:
        reply = await c.delete(backup_id)
        assert (reply.status, reply.body) == (202, {})


async def test_a_repeated_delete_answers_as_the_scenario_says(clock: FakeClock) -> None:
    """A second DELETE of a backup being deleted: 400 CSBS.2003, 409, or 204 with nothing new queued."""
    for mode, status in (("2003", 400), ("409", 409), ("204", 204)):
        emu = CbrEmulator(scenario(repeat_delete=mode), seed=1, clock=clock)
        backup_id = str(emu.add_backup()["id"])
        async with cloud(emu) as c:
            await c.delete(backup_id)
            again = await c.delete(backup_id)
        assert again.status == status, mode
        if mode == "2003":
            assert again.body["error_code"] == "CSBS.2003"
        assert emu.stats.tasks_started == 1
        assert len(emu.delete_logs(backup_id)) == 1


async def test_deletions_past_the_limit_may_be_refused_instead_of_queued(clock: FakeClock) -> None:
    """Point 3: with over_limit 6216 the sixth outstanding deletion is refused as busy."""
    emu = CbrEmulator(scenario(over_limit="6216", deletions_per_user=2), seed=1, clock=clock)
    ids = [str(emu.add_backup()["id"]) for _ in range(3)]
    async with cloud(emu) as c:
        replies = [await c.delete(i) for i in ids]
    assert [r.status for r in replies] == [204, 204, 400]
    assert replies[2].body["error_code"] == "BackupService.6216"


async def test_a_failed_deletion_falls_back_to_available_and_logs_the_failure(clock: FakeClock) -> None:
    """Point 5: no fail_op; the backup shows available again and a failed delete log carries error_info."""
    backup_id = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"
    emu = CbrEmulator(scenario(delete_duration_s=(2.0, 2.0), fail_items=frozenset({backup_id})), seed=1,
                      clock=clock)
    emu.add_backup(backup_id=backup_id)
    async with cloud(emu) as c:
        await c.delete(backup_id)
        clock.advance(3)
        backup = (await c.get(backup_id)).body["backup"]
        logs = (await c.logs({"operation_type": "delete", "status": "failed"})).body
    assert backup["status"] == "available"
    assert "fail_op" not in backup["extend_info"]
    assert logs["count"] == 1
    entry = logs["operation_logs"][0]
    assert entry["extra_info"]["delete"]["backup_id"] == backup_id
    assert entry["error_info"]["code"] == "BackupService.6201"


async def test_a_failed_deletion_may_go_to_error_without_a_log(clock: FakeClock) -> None:
    """Point 5: fail_mode error and fail_logs off: the backup is in error and no log tells why."""
    backup_id = "6df2b54c-dd62-4059-a07c-1b8f24f2725d"
    emu = CbrEmulator(scenario(delete_duration_s=(1.0, 1.0), fail_items=frozenset({backup_id}),
                               fail_mode="error", fail_logs=False), seed=1, clock=clock)
    emu.add_backup(backup_id=backup_id, children=1)
    async with cloud(emu) as c:
        await c.delete(backup_id)
        clock.advance(2)
        backup = (await c.get(backup_id)).body["backup"]
        logs = (await c.logs({"operation_type": "delete"})).body
    assert backup["status"] == "error"
    assert backup["children"][0]["status"] == "error"
    assert logs == {"operation_logs": [], "count": 0}


async def test_delete_logs_follow_the_deletion_and_carry_the_request_id(clock: FakeClock) -> None:
    """Point 7: a log is waiting, running, then success, and its request_id is the DELETE's X-Request-Id."""
    emu = CbrEmulator(scenario(delete_duration_s=(4.0, 4.0)), seed=1, clock=clock)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as c:
        reply = await c.delete(backup_id)
        clock.advance(2)
        running = (await c.logs({"operation_type": "delete"})).body["operation_logs"][0]
        clock.advance(3)
        done = (await c.logs({"operation_type": "delete", "status": "success"})).body["operation_logs"][0]
        other = (await c.logs({"operation_type": "backup"})).body
    assert (running["status"], running["extra_info"]["common"]["progress"]) == ("running", 50)
    assert done["extra_info"]["common"]["request_id"] == reply.headers["X-Request-Id"]
    assert other["count"] == 0


async def test_delete_logs_may_be_missing_or_carry_another_request_id(clock: FakeClock) -> None:
    """Point 7: with delete_logs off there is no log; with log_request_id off the ids differ."""
    quiet = CbrEmulator(scenario(delete_logs=False), seed=1, clock=clock)
    other = CbrEmulator(scenario(log_request_id=False), seed=1, clock=clock)
    for emu in (quiet, other):
        backup_id = str(emu.add_backup()["id"])
        async with cloud(emu) as c:
            reply = await c.delete(backup_id)
            logs = (await c.logs()).body["operation_logs"]
        if emu is quiet:
            assert logs == []
        else:
            assert logs[0]["extra_info"]["common"]["request_id"] != reply.headers["X-Request-Id"]


async def test_without_progress_reported_the_running_delete_log_shows_0(clock: FakeClock) -> None:
    """progress_reported off: the running delete log's progress is 0 too (GET and list: core/test_tasks.py)."""
    emu = CbrEmulator(scenario(progress_reported=False, delete_duration_s=(10.0, 10.0)), seed=1, clock=clock)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as c:
        await c.delete(backup_id)
        clock.advance(5)
        log = (await c.logs({"status": "running"})).body["operation_logs"][0]
    assert log["extra_info"]["common"]["progress"] == 0


async def test_the_first_deletes_of_each_backup_are_in_use_and_start_nothing(clock: FakeClock) -> None:
    """busy_first_deletes 2: the first two DELETEs of a backup answer 400 BackupService.6216 and leave it
    available, with no delete log and nothing queued; the third is accepted and the backup goes. Another
    backup's count is its own."""
    emu = CbrEmulator(scenario(busy_first_deletes=2, delete_duration_s=(5.0, 5.0)), seed=1, clock=clock)
    backup_id, other_id = (str(emu.add_backup(children=1)["id"]) for _ in range(2))
    async with cloud(emu) as c:
        busy = [await c.delete(backup_id) for _ in range(2)]
        meanwhile = await c.status_of(backup_id)
        logs = len(emu.delete_logs(backup_id))
        started = emu.stats.tasks_started
        accepted = await c.delete(backup_id)
        deleting = await c.status_of(backup_id)
        other = await c.delete(other_id)
        repeated = await c.delete(backup_id)  # CSBS.2003 as any repeat, not one of the first two
        clock.advance(5)
        gone = await c.status_of(backup_id)
    assert [(r.status, r.body["error_code"]) for r in busy] == [(400, "BackupService.6216")] * 2
    assert "in use" in busy[0].body["error_msg"]
    assert (meanwhile, logs, started) == ("available", 0, 0)
    assert (accepted.status, deleting) == (204, "deleting")
    assert (other.status, other.body["error_code"]) == (400, "BackupService.6216")
    assert (repeated.status, repeated.body["error_code"]) == (400, "CSBS.2003")
    assert gone == 404
    assert emu.stats.faults_by_kind["busy-first"] == 3
    assert emu.stats.tasks_started == 1


async def test_the_busy_first_answer_follows_the_code_form(clock: FakeClock) -> None:
    """Point 15: with code_form bare, the forced busy answer's code is 6216."""
    emu = CbrEmulator(scenario(busy_first_deletes=1, code_form="bare"), seed=1, clock=clock)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as c:
        busy = await c.delete(backup_id)
        accepted = await c.delete(backup_id)
    assert (busy.status, busy.body["error_code"], accepted.status) == (400, "6216", 204)
