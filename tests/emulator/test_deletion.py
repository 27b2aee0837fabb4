"""Deletion as the service does it: queued tasks, five running per user, progress, and every reading."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import TOKEN, FakeClock, cloud, scenario
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


async def test_sixth_task_waits_and_starts_the_instant_a_slot_frees(clock: FakeClock):
    """Five tasks run per user, the sixth is waiting_delete and starts exactly when the first one ends."""
    emu = Emulator(scenario(delete_duration_s=(10, 10)), clock=clock)
    made = records(emu, 6)
    start = clock.now
    async with cloud(emu) as c:
        for cid, [item] in made[:5]:
            await c.delete_item(cid, item)
        clock.advance(1)
        await c.delete_item(made[5][0], made[5][1][0])
        queued = [await c.status_of(item) for _, [item] in made]
        sixth = (await c.get_item(made[5][1][0])).body["checkpoint_item"]
        clock.advance(9.5)  # t = 10.5: the first five ended at 10, the sixth runs since 10
        later = [await c.status_of(item) for _, [item] in made]
        progress = (await c.get_item(made[5][1][0])).body["checkpoint_item"]["extend_info"]["progress"]
        clock.advance(10)
        assert await c.status_of(made[5][1][0]) == 404
    assert queued == ["deleting"] * 5 + ["waiting_delete"]
    assert sixth["extend_info"]["progress"] == 0
    assert later == [404] * 5 + ["deleting"]
    assert progress == 5
    stats = emu.stats
    assert stats.max_outstanding == {"user-1": 6}
    assert stats.outstanding("user-1") == 0
    assert (stats.tasks_started, stats.tasks_finished) == (6, 6)
    assert stats.task_running_seconds == pytest.approx(60.0)
    assert (stats.first_task_start, stats.last_task_end) == (start, start + 20)


async def test_replay_is_exact_however_rarely_the_emulator_is_asked(clock: FakeClock):
    """Twelve equal tasks end in three waves at their exact times even when the clock jumps past them all."""
    emu = Emulator(scenario(delete_duration_s=(2, 2)), clock=clock)
    start = clock.now
    async with cloud(emu) as c:
        for cid, [item] in records(emu, 12):
            await c.delete_item(cid, item)
        assert emu.stats.outstanding("user-1") == 12
        clock.advance(1000)
        assert (await c.count()).body == {"count": 0}
    stats = emu.stats
    assert stats.tasks_finished == 12
    assert stats.task_running_seconds == pytest.approx(24.0)
    assert stats.last_task_end == pytest.approx(start + 6.0)


async def test_each_user_has_its_own_five_slots(clock):
    """Tasks of two users do not share slots: each runs five at once."""
    emu = Emulator(scenario(tokens={TOKEN: "user-1", "t2": "user-2"}, delete_duration_s=(10, 10)), clock=clock)
    made = records(emu, 10)
    async with cloud(emu) as c:
        for n, (cid, [item]) in enumerate(made):
            await c.delete_item(cid, item, headers={"X-Auth-Token": TOKEN if n % 2 else "t2"})
        statuses = [await c.status_of(item) for _, [item] in made]
    assert statuses == ["deleting"] * 10
    assert emu.stats.max_outstanding == {"user-1": 5, "user-2": 5}


async def test_progress_rises_with_elapsed_time(clock: FakeClock):
    """extend_info.progress goes 0..100 with elapsed/duration, in GET and in the list alike."""
    emu = Emulator(scenario(delete_duration_s=(8, 8)), clock=clock)
    [(cid, [item])] = records(emu, 1)
    seen = []
    async with cloud(emu) as c:
        await c.delete_item(cid, item)
        for _ in range(3):
            clock.advance(2)
            single = (await c.get_item(item)).body["checkpoint_item"]["extend_info"]["progress"]
            listed = (await c.list()).body["checkpoint_items"][0]["extend_info"]["progress"]
            seen.append((single, listed))
    assert seen == [(25, 25), (50, 50), (75, 75)]


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


async def test_status_lag_shows_the_old_status_for_a_while(clock: FakeClock):
    """During status_lag_s after a DELETE, GET and list still show available while DELETE says busy."""
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


async def test_stuck_task_never_ends_and_keeps_its_slot(clock: FakeClock):
    """A stuck deletion stays deleting with frozen progress forever and its slot is never freed."""
    stuck = [f"{r:08d}-0000-4000-8000-000000000000" for r in range(5)]
    emu = Emulator(scenario(stuck_items=frozenset(stuck), delete_duration_s=(1, 1)), clock=clock)
    made = records(emu, 6)
    async with cloud(emu) as c:
        for cid, [item] in made:
            await c.delete_item(cid, item)
        clock.advance(1)
        first = (await c.get_item(stuck[0])).body["checkpoint_item"]["extend_info"]["progress"]
        clock.advance(10_000)
        statuses = [await c.status_of(item) for _, [item] in made]
        frozen = (await c.get_item(stuck[0])).body["checkpoint_item"]["extend_info"]["progress"]
    assert statuses == ["deleting"] * 5 + ["waiting_delete"]
    assert first == frozen and 0 < frozen < 100
    assert emu.stats.outstanding("user-1") == 6


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
