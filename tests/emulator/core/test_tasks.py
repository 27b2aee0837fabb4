"""Deletion tasks, the same on both faces: a limit of running deletions per user, the rest waiting, progress,
stuck tasks, the status lag, and an exact replay under an injected clock."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import USER, FakeClock
from tests.emulator.sides import Side


async def test_sixth_deletion_waits_and_starts_the_instant_a_slot_frees(side: Side, clock: FakeClock) -> None:
    """Five deletions run per user, the sixth is waiting_delete and starts exactly when the first ones end."""
    emu = side.emulator(clock, delete_duration_s=(10, 10))
    made = side.backups(emu, 6)
    start = clock.now
    async with side.cloud(emu) as c:
        for backup in made[:5]:
            await c.delete_backup(backup)
        clock.advance(1)
        await c.delete_backup(made[5])
        queued = [await c.status_of(b.id) for b in made]
        waiting = await c.progress_of(made[5].id)
        clock.advance(9.5)  # t = 10.5: the first five ended at 10, the sixth runs since 10
        later = [await c.status_of(b.id) for b in made]
        progress = await c.progress_of(made[5].id)
        clock.advance(10)
        assert await c.status_of(made[5].id) == 404
    assert queued == ["deleting"] * 5 + ["waiting_delete"]
    assert waiting == 0
    assert later == [404] * 5 + ["deleting"]
    assert progress == 5
    stats = emu.stats
    assert stats.max_outstanding == {USER: 6}
    assert stats.outstanding(USER) == 0
    assert (stats.tasks_started, stats.tasks_finished) == (6, 6)
    assert stats.task_running_seconds == pytest.approx(60.0)
    assert (stats.first_task_start, stats.last_task_end) == (start, start + 20)


async def test_without_progress_reported_progress_stays_0_until_the_backup_is_gone(side: Side,
                                                                                  clock: FakeClock) -> None:
    """progress_reported off: extend_info.progress is 0 while waiting and deleting, in GET and in the list;
    the deletion still ends after its duration."""
    emu = side.emulator(clock, progress_reported=False, delete_duration_s=(10, 10), **{side.per_user: 1})
    running, waiting = side.backups(emu, 2)

    async def shown(backup_id: str) -> tuple[str | int, int, int]:
        return await c.status_of(backup_id), await c.progress_of(backup_id), await c.progress_of(backup_id, True)

    async with side.cloud(emu) as c:
        await c.delete_backup(running)
        await c.delete_backup(waiting)
        clock.advance(5)
        halfway = [await shown(running.id), await shown(waiting.id)]
        clock.advance(4.9)
        near_end = await shown(running.id)
        clock.advance(0.1)
        ended = await c.status_of(running.id)
        next_one = await shown(waiting.id)
        clock.advance(10)
        both = [await c.status_of(running.id), await c.status_of(waiting.id)]
    assert halfway == [("deleting", 0, 0), ("waiting_delete", 0, 0)]
    assert near_end == ("deleting", 0, 0)
    assert ended == 404
    assert next_one == ("deleting", 0, 0)
    assert both == [404, 404]


async def test_replay_is_exact_however_rarely_the_emulator_is_asked(side: Side, clock: FakeClock) -> None:
    """Twelve equal deletions end in three waves at their exact times even when the clock jumps past them all."""
    emu = side.emulator(clock, delete_duration_s=(2, 2))
    start = clock.now
    async with side.cloud(emu) as c:
        for backup in side.backups(emu, 12):
            await c.delete_backup(backup)
        assert emu.stats.outstanding(USER) == 12
        clock.advance(1000)
    stats = emu.stats
    assert stats.tasks_finished == 12
    assert stats.task_running_seconds == pytest.approx(24.0)
    assert stats.last_task_end == pytest.approx(start + 6.0)


async def test_each_user_has_its_own_slots(side: Side, clock: FakeClock) -> None:
    """Deletions of two users do not share slots: each runs five at once."""
    emu = side.emulator(clock, tokens={side.token: USER, "t2": "user-2"}, delete_duration_s=(10, 10))
    made = side.backups(emu, 10)
    async with side.cloud(emu) as c:
        for n, backup in enumerate(made):
            await c.delete_backup(backup, headers={"X-Auth-Token": side.token if n % 2 else "t2"})
        statuses = [await c.status_of(b.id) for b in made]
    assert statuses == ["deleting"] * 10
    assert emu.stats.max_outstanding == {USER: 5, "user-2": 5}


async def test_the_limit_per_user_is_a_scenario_switch(side: Side, clock: FakeClock) -> None:
    """With a limit of two, the third deletion of a user waits."""
    emu = side.emulator(clock, delete_duration_s=(10, 10), **{side.per_user: 2})
    made = side.backups(emu, 3)
    async with side.cloud(emu) as c:
        for backup in made:
            await c.delete_backup(backup)
        statuses = [await c.status_of(b.id) for b in made]
    assert statuses == ["deleting", "deleting", "waiting_delete"]


async def test_progress_rises_with_elapsed_time(side: Side, clock: FakeClock) -> None:
    """extend_info.progress goes 0..100 with elapsed/duration, in GET and in the list alike."""
    emu = side.emulator(clock, delete_duration_s=(8, 8))
    [backup] = side.backups(emu, 1)
    seen = []
    async with side.cloud(emu) as c:
        await c.delete_backup(backup)
        for _ in range(3):
            clock.advance(2)
            seen.append((await c.progress_of(backup.id), await c.progress_of(backup.id, listed=True)))
    assert seen == [(25, 25), (50, 50), (75, 75)]


async def test_a_stuck_deletion_never_ends_and_keeps_its_slot(side: Side, clock: FakeClock) -> None:
    """A stuck deletion stays deleting with frozen progress forever; its slot is never freed."""
    stuck_id = "00000000-0000-4000-8000-000000000000"
    emu = side.emulator(clock, delete_duration_s=(1, 1), stuck_items=frozenset({stuck_id}), **{side.per_user: 1})
    stuck, other = side.backups(emu, 2)
    async with side.cloud(emu) as c:
        await c.delete_backup(stuck)
        await c.delete_backup(other)
        clock.advance(1)
        first = await c.progress_of(stuck.id)
        clock.advance(10_000)
        statuses = (await c.status_of(stuck.id), await c.status_of(other.id))
        frozen = await c.progress_of(stuck.id)
    assert statuses == ("deleting", "waiting_delete")
    assert first == frozen and 0 < frozen < 100
    assert emu.stats.outstanding(USER) == 2


async def test_the_status_lag_shows_the_old_status_for_a_while(side: Side, clock: FakeClock) -> None:
    """During status_lag_s after a DELETE, GET still shows available, then deleting."""
    emu = side.emulator(clock, status_lag_s=3, delete_duration_s=(10, 10))
    [backup] = side.backups(emu, 1)
    async with side.cloud(emu) as c:
        await c.delete_backup(backup)
        shown = await c.status_of(backup.id)
        clock.advance(3)
        later = await c.status_of(backup.id)
    assert (shown, later) == ("available", "deleting")
