"""A backup given another identity under its id (``replace_identity``: tests play a backup replaced between a
plan and its run), the same on both faces: its GET and every listing show the new one at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.emulator.helpers import FakeClock
from tests.emulator.sides import Side

SERVER = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"


async def test_a_replaced_identity_shows_in_the_get_and_the_listings(side: Side, clock: FakeClock) -> None:
    """Another created_at and resource_id: the GET shows them, a listing by the new resource finds the backup,
    and a listing read before (which the CBR face keeps sorted) is not served stale; an unknown id is refused."""
    emu = side.emulator(clock)
    made = side.backups(emu, 2)
    many, one = side.keys
    async with side.cloud(emu) as c:
        before = [b["id"] for b in (await c.list_backups()).body[many]]  # newest first
        newest = before[0]
        emu.replace_identity(newest, created_at=datetime(2020, 1, 1, tzinfo=UTC), resource_id=SERVER)
        shown = (await c.get_backup(newest)).body[one]
        by_resource = [b["id"] for b in (await c.list_backups(params={"resource_id": SERVER})).body[many]]
        after = [b["id"] for b in (await c.list_backups()).body[many]]
    assert shown["resource_id"] == SERVER and shown["created_at"].startswith("2020-01-01T00:00:00")
    assert by_resource == [newest]
    assert sorted(after) == sorted(before) == sorted(b.id for b in made) and after[-1] == newest  # now the oldest
    with pytest.raises(KeyError):
        emu.replace_identity("00000000-0000-4000-8000-999999999999", resource_id=SERVER)
