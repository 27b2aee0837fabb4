"""Seeding: random records that look real and repeat under a seed, plans with given ids, single items."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.emulator.csbs.conftest import cloud, scenario
from worker.emulator import Emulator

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FIXED_WALL = 1_750_000_000.0


def make(seed: int, clock) -> Emulator:
    return Emulator(scenario(), seed=seed, clock=clock, wall_clock=lambda: FIXED_WALL)


def test_seed_random_makes_records_of_one_to_three_backups(clock):
    """seed_random(n) adds n records of 1-3 available backups each, with UUIDs and plausible names."""
    emu = make(1, clock)
    made = emu.seed_random(40)
    assert len(made) == 40 and {len(items) for _, items in made} <= {1, 2, 3}
    items = emu.items()
    assert len(items) == sum(len(ids) for _, ids in made)
    assert all(UUID.match(i["id"]) and UUID.match(i["checkpoint_id"]) and UUID.match(i["resource_id"])
               for i in items)
    assert all(re.match(r"^(autobk|manualbk)_[0-9a-f]{4}$", i["name"]) for i in items)
    assert all(i["extend_info"]["resource_name"].startswith("ecs-") for i in items)
    assert {i["status"] for i in items} == {"available"}
    created = [datetime.fromisoformat(i["created_at"]) for i in items]
    assert (max(created) - min(created)).days > 60  # spread over months
    assert len({i["resource_id"] for i in items}) < len(items)  # servers recur across records


def test_same_seed_gives_the_same_backups(clock):
    """Two emulators with one seed hold identical backups; another seed gives others."""
    def seeded(seed: int) -> list[dict[str, object]]:
        emu = make(seed, clock)
        emu.seed_random(10)
        return emu.items()

    assert seeded(5) == seeded(5)
    assert seeded(5) != seeded(6)


def test_seed_plan_uses_given_ids_or_makes_some(clock):
    """seed_plan keeps given record and item ids, and fills a None entry with 1-3 backups."""
    emu = make(2, clock)
    made = emu.seed_plan([("c-1", ["i-1", "i-2"]), ("c-2", None)])
    assert made[0] == ("c-1", ["i-1", "i-2"])
    assert made[1][0] == "c-2" and 1 <= len(made[1][1]) <= 3
    assert {i["id"] for i in emu.items(checkpoint_id="c-1")} == {"i-1", "i-2"}
    with pytest.raises(ValueError, match="already exists"):
        emu.seed_plan([("c-3", ["i-9", "i-1"])])
    with pytest.raises(ValueError, match="distinct"):
        emu.seed_plan([("c-4", [])])
    assert emu.item("i-9") is None  # a refused record adds nothing


def test_add_item_takes_given_fields_and_refuses_task_statuses(clock):
    """add_item keeps the fields given and rejects statuses only a deletion task can set."""
    emu = make(3, clock)
    item = emu.add_item(checkpoint_id="c", item_id="i", status="error", name="nightly",
                        created_at="2024-05-01T00:00:00", resource_id="r", resource_name="db-1")
    assert (item["id"], item["status"], item["name"], item["resource_id"]) == ("i", "error", "nightly", "r")
    assert item["extend_info"]["fail_op"] == "backup"
    with pytest.raises(ValueError):
        emu.add_item(status="deleting")


async def test_seeded_backups_are_served(clock):
    """What was seeded is what the API lists and counts."""
    emu = make(4, clock)
    emu.seed_random(5)
    async with cloud(emu) as c:
        count = (await c.count()).body["count"]
        listed = {i["id"] for i in (await c.list()).body["checkpoint_items"]}
    assert count == len(emu.items())
    assert listed == {i["id"] for i in emu.items()}
