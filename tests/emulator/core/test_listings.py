"""Listings on both faces: pages stay right while backups come and go (each face keeps a sorted listing until
its backups change), and the listing faults a planner must survive (``empty-page``)."""

from __future__ import annotations

from tests.emulator.helpers import FakeClock
from tests.emulator.sides import Side


def ids(answer: object, side: Side) -> list[str]:
    return [row["id"] for row in answer.body[side.keys[0]]]  # type: ignore[attr-defined]


async def test_paging_sees_backups_deleted_between_pages_and_added_since(side: Side, clock: FakeClock) -> None:
    """A listing paged by marker: a backup deleted after the first page is gone from the pages that follow,
    and a new listing shows it gone and a backup added since."""
    emu = side.emulator(clock, delete_duration_s=(1.0, 1.0))
    seeded = side.backups(emu, 6)
    async with side.cloud(emu) as c:
        first = ids(await c.list_backups(params={"limit": 3}), side)
        doomed = next(b for b in seeded if b.id not in first)
        assert (await c.delete_backup(doomed)).status < 300
        clock.advance(2)
        rest = ids(await c.list_backups(params={"limit": 3, "marker": first[-1]}), side)
        [added] = side.seed(emu, ["00000000-0000-4000-8000-999999999999"], None)
        again = ids(await c.list_backups(), side)
    assert len(first) == 3
    assert set(rest) == {b.id for b in seeded} - set(first) - {doomed.id}
    assert set(again) == {b.id for b in seeded} - {doomed.id} | {added.id}


async def test_empty_page_answers_no_rows_and_keeps_the_count(side: Side, clock: FakeClock) -> None:
    """Kind empty-page answers the hit page with no rows, as at the end of the listing (CBR's count still says
    the total); the pages before and after it are whole, and the fault is counted."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], "empty-page", after=1, times=1),))
    side.backups(emu, 4)
    async with side.cloud(emu) as c:
        pages = [await c.list_backups(params={"limit": 2}) for _ in range(3)]
    assert [page.status for page in pages] == [200, 200, 200]
    assert [len(ids(page, side)) for page in pages] == [2, 0, 2]
    if side.name == "cbr":
        assert [page.body["count"] for page in pages] == [4, 4, 4]
    assert emu.stats.faults_by_kind == {"empty-page": 1}
