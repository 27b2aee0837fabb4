"""Deletion as CSBS does it: records and single backups, busy and gone readings, failures, images (the task
board itself, its slots, progress and lag are the core's: ``core/test_tasks.py``)."""

from __future__ import annotations

import pytest

from tests.emulator.csbs.conftest import FakeClock, cloud, scenario
from worker.emulator import Emulator


def records(emu: Emulator, n: int, items_each: int = 1) -> list[tuple[str, list[str]]]:
    """Seed ``n`` records of ``items_each`` backups with fixed ids."""
    plan = [(f"00000000-0000-4000-8000-{r:012d}", [f"{r:08d}-0000-4000-8000-{i:012d}" for i in range(items_each)])
            for r in range(n)]
    return emu.seed_plan(plan)


async def test_delete_queues_a_task_and_answers_200_empty(clock):
    """A DELETE answers 200 {} at once; the backup shows deleting, then vanishes (404) when the task ends."""
    emu = Emulator(scenario(delete_duration_s=(10, 10)), clock=clock)
    [(cid, [item])] = records(emu, 1)
    async with cloud(emu) as c:
        answer = await c.delete_item(cid, item)
        during = await c.status_of(item)
        clock.advance(10)
        after = await c.get_item(item)
    assert (answer.status, answer.body) == (200, {})
    assert during == "deleting"
    assert after.status == 404 and after.body["error_code"] == "CSBS.3001"


async def test_whole_record_delete_is_one_task_for_all_its_backups(clock: FakeClock):
    """DELETE of a record queues one task: all its backups share the taskid and vanish together."""
    emu = Emulator(scenario(delete_duration_s=(5, 5)), clock=clock)
    [(cid, items)] = records(emu, 1, items_each=3)
    async with cloud(emu) as c:
        await c.delete_record(cid)
        shown = [(await c.get_item(item)).body["checkpoint_item"] for item in items]
        clock.advance(5)
        after = [await c.status_of(item) for item in items]
        again = await c.delete_record(cid)
    assert {s["status"] for s in shown} == {"deleting"}
    assert len({s["extend_info"]["taskid"] for s in shown}) == 1
    assert after == [404, 404, 404]
    assert again.status == 404
    assert emu.stats.tasks_started == 1
    assert emu.stats.deletes_by_target == {cid: 2}


async def test_only_available_or_error_backups_may_be_deleted(clock):
    """A backup being backed up answers busy (400 CSBS.2003); one in error may be deleted."""
    emu = Emulator(scenario(), clock=clock)
    protecting = emu.add_item(status="protecting")
    failed = emu.add_item(status="error")
    async with cloud(emu) as c:
        busy = await c.delete_item(protecting["checkpoint_id"], protecting["id"])
        ok = await c.delete_item(failed["checkpoint_id"], failed["id"])
    assert (busy.status, busy.body["error_code"]) == (400, "CSBS.2003")
    assert ok.status == 200


@pytest.mark.parametrize(("busy_mode", "status"), [("400", 400), ("409", 409)])
async def test_repeated_delete_while_deleting_answers_busy(clock, busy_mode, status):
    """A DELETE of a backup (or its record) already queued or deleting answers 400 CSBS.2003 or 409."""
    emu = Emulator(scenario(busy_mode=busy_mode, delete_duration_s=(10, 10)), clock=clock)
    [(cid, items)] = records(emu, 1, items_each=2)
    async with cloud(emu) as c:
        await c.delete_item(cid, items[0])
        same_item = await c.delete_item(cid, items[0])
        whole_record = await c.delete_record(cid)
        other_item = await c.delete_item(cid, items[1])
    assert same_item.status == status and whole_record.status == status
    assert same_item.body["error_code"] == "CSBS.2003"
    assert other_item.status == 200


async def test_gone_mode_deleted_lingers_then_404(clock: FakeClock):
    """With gone_mode deleted a finished backup shows status deleted for deleted_linger_s, then 404."""
    emu = Emulator(scenario(gone_mode="deleted", deleted_linger_s=30, delete_duration_s=(5, 5)), clock=clock)
    [(cid, [item])] = records(emu, 1)
    async with cloud(emu) as c:
        await c.delete_item(cid, item)
        clock.advance(5)
        lingering = await c.status_of(item)
        listed = (await c.list(status="deleted")).body["checkpoint_items"]
        again = await c.delete_item(cid, item)
        clock.advance(30)
        gone = await c.status_of(item)
    assert lingering == "deleted"
    assert [i["id"] for i in listed] == [item]
    assert again.status == 404
    assert gone == 404


async def test_status_lag_shows_in_the_count_while_a_repeated_delete_says_busy(clock: FakeClock):
    """During status_lag_s after a DELETE, the count by status still counts it available, while a repeated
    DELETE says busy and ``Emulator.item`` tells the truth."""
    emu = Emulator(scenario(status_lag_s=3, delete_duration_s=(10, 10)), clock=clock)
    [(cid, [item])] = records(emu, 1)
    async with cloud(emu) as c:
        await c.delete_item(cid, item)
        shown = await c.status_of(item)
        listed = (await c.count(status="available")).body["count"]
        repeat = await c.delete_item(cid, item)
        clock.advance(3)
        later = await c.status_of(item)
    assert (shown, listed, repeat.status) == ("available", 1, 400)
    assert (emu.item(item) or {}).get("status") == "deleting"  # the truth, for tests
    assert later == "deleting"


async def test_failed_deletion_ends_in_error_with_delete_fail_op(clock: FakeClock):
    """A backup in fail_items ends in error with fail_op delete, a reason and a code, and stays deletable."""
    doomed = "00000000-0000-4000-8000-000000000000"
    emu = Emulator(scenario(fail_items=frozenset({doomed}), delete_duration_s=(4, 4)), clock=clock)
    [(cid, items)] = records(emu, 1, items_each=2)
    async with cloud(emu) as c:
        await c.delete_record(cid)
        clock.advance(4)
        failed = (await c.get_item(doomed)).body["checkpoint_item"]
        other = await c.status_of(items[1])
        retry = await c.delete_item(cid, doomed)
    info = failed["extend_info"]
    assert failed["status"] == "error"
    assert info["fail_op"] == "delete" and info["fail_reason"]
    assert set(info["fail_code"]) == {"Code", "Description"}
    assert other == 404
    assert retry.status == 200


async def test_fail_rate_one_fails_every_deletion(clock: FakeClock):
    """fail_rate 1.0 makes every deletion end in error."""
    emu = Emulator(scenario(fail_rate=1.0, delete_duration_s=(1, 1)), clock=clock)
    made = records(emu, 3)
    async with cloud(emu) as c:
        for cid, [item] in made:
            await c.delete_item(cid, item)
        clock.advance(1)
        statuses = [await c.status_of(item) for _, [item] in made]
    assert statuses == ["error"] * 3


async def test_image_registered_backup_cannot_be_deleted(clock):
    """A backup registered to an image answers 400 CSBS.8007, alone or in its record, and stays."""
    emu = Emulator(scenario(image_items=frozenset({"00000000-0000-4000-8000-000000000001"})), clock=clock)
    [(cid, items)] = records(emu, 1, items_each=2)
    other = emu.add_item(image_registered=True)
    async with cloud(emu) as c:
        single = await c.delete_item(cid, items[1])
        record = await c.delete_record(cid)
        flagged = await c.delete_item(other["checkpoint_id"], other["id"])
        shown = await c.status_of(items[1])
    assert {a.status for a in (single, record, flagged)} == {400}
    assert {a.body["error_code"] for a in (single, record, flagged)} == {"CSBS.8007"}
    assert shown == "available"
    assert emu.stats.tasks_started == 0


async def test_delete_of_an_item_not_in_the_record_or_of_several_ids(clock):
    """An item id from another record answers 404; several ids in checkpoint_items answer 400."""
    emu = Emulator(scenario(), clock=clock)
    (cid_a, [item_a]), (_, [item_b]) = records(emu, 2)
    async with cloud(emu) as c:
        wrong_record = await c.delete_item(cid_a, item_b)
        several = await c.delete_item(cid_a, f"{item_a},{item_b}")
    assert wrong_record.status == 404
    assert several.status == 400
    assert emu.stats.tasks_started == 0


@pytest.mark.parametrize(("busy_mode", "status"), [("400", 400), ("409", 409)])
async def test_the_first_deletes_of_each_backup_are_busy_and_start_nothing(clock: FakeClock, busy_mode, status):
    """busy_first_deletes 2: the first two DELETEs of a backup answer busy (CSBS.2003, 400 or 409 as
    busy_mode says) and leave it available with nothing queued; the third is accepted and the backup goes."""
    emu = Emulator(scenario(busy_first_deletes=2, busy_mode=busy_mode, delete_duration_s=(5, 5)), clock=clock)
    [(cid, [item])] = records(emu, 1)
    async with cloud(emu) as c:
        busy = [await c.delete_item(cid, item) for _ in range(2)]
        meanwhile = await c.status_of(item)
        started = emu.stats.tasks_started
        accepted = await c.delete_item(cid, item)
        deleting = await c.status_of(item)
        repeated = await c.delete_item(cid, item)  # busy as any repeat, not one of the first two
        clock.advance(5)
        gone = await c.status_of(item)
    assert [(a.status, a.body["error_code"]) for a in busy] == [(status, "CSBS.2003")] * 2
    assert (meanwhile, started) == ("available", 0)
    assert (accepted.status, deleting) == (200, "deleting")
    assert repeated.status == status
    assert gone == 404
    assert emu.stats.faults_by_kind["busy-first"] == 2
    assert emu.stats.deletes_by_target[item] == 4


async def test_busy_first_deletes_count_per_backup_and_per_record(clock: FakeClock):
    """The first DELETEs are counted per backup for ?checkpoint_items= and per record for a whole-record
    DELETE: one backup's busy answers do not use up another's, nor its record's (nor another record's whose
    id is the same: ``records`` gives record 1 the id of record 0's second backup)."""
    emu = Emulator(scenario(busy_first_deletes=1, delete_duration_s=(5, 5)), clock=clock)
    [(cid, items), (other_cid, other_items)] = records(emu, 2, items_each=2)
    async with cloud(emu) as c:
        first_a = await c.delete_item(cid, items[0])
        second_a = await c.delete_item(cid, items[0])
        first_b = await c.delete_item(cid, items[1])
        first_record = await c.delete_record(other_cid)
        second_record = await c.delete_record(other_cid)
        statuses = [await c.status_of(i) for i in (*items, *other_items)]
    assert [a.status for a in (first_a, second_a, first_b, first_record, second_record)] == [400, 200, 400, 400, 200]
    assert statuses == ["deleting", "available", "deleting", "deleting"]
    assert emu.stats.faults_by_kind["busy-first"] == 3
    assert emu.stats.tasks_started == 2
