"""The read calls: item shape, list filters, sorting and paging, count, and the documented errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.emulator.csbs.conftest import PROJECT, cloud, scenario
from worker.emulator import Emulator, FaultRule

CID = "6f1c8a52-3d4e-4b8f-9a0b-1c2d3e4f5a6b"
ITEM = "3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"
ITEM_FIELDS = {"id", "checkpoint_id", "name", "status", "resource_id", "resource_type", "created_at",
               "updated_at", "description", "tags", "extend_info"}
EXTEND_FIELDS = {"progress", "fail_op", "fail_reason", "fail_code", "taskid", "finished_at", "resource_name"}


def ids(answer) -> list[str]:
    return [item["id"] for item in answer.body["checkpoint_items"]]


async def test_get_item_has_the_documented_shape(clock):
    """GET checkpoint_items/{id} wraps the item in checkpoint_item with every documented field."""
    emu = Emulator(scenario(), clock=clock)
    emu.add_item(checkpoint_id=CID, item_id=ITEM, name="manualbk_1", resource_name="ecs-web-01",
                 created_at="2024-03-01T10:00:00.123456", tags=[{"key": "env", "value": "prod"}])
    async with cloud(emu) as c:
        answer = await c.get_item(ITEM)
    item = answer.body["checkpoint_item"]
    assert answer.status == 200
    assert set(item) >= ITEM_FIELDS
    assert set(item["extend_info"]) >= EXTEND_FIELDS
    assert (item["id"], item["checkpoint_id"], item["status"]) == (ITEM, CID, "available")
    assert item["created_at"] == "2024-03-01T10:00:00.123456"  # no zone designator, as CSBS writes it
    assert item["resource_type"] == "OS::Nova::Server"
    assert item["tags"] == [{"key": "env", "value": "prod"}]
    assert item["extend_info"]["progress"] == 100 and item["extend_info"]["resource_name"] == "ecs-web-01"


async def test_unknown_item_is_404_csbs_3001(clock):
    """A backup that does not exist answers 404 CSBS.3001."""
    async with cloud(Emulator(scenario(), clock=clock)) as c:
        answer = await c.get_item(ITEM)
    assert answer.status == 404 and answer.body["error_code"] == "CSBS.3001"


async def test_list_filters_by_each_documented_parameter(clock):
    """status, checkpoint_id, resource_id, name, resource_name, times, policy_id and resource_type filter."""
    emu = Emulator(scenario(), clock=clock)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    a = emu.add_item(checkpoint_id=CID, name="autobk_web", resource_id="r-1", resource_name="ecs-web-01",
                     created_at=base, policy_id="pol-1")
    b = emu.add_item(checkpoint_id=CID, name="manualbk_db", resource_id="r-2", resource_name="ecs-db-01",
                     created_at=base + timedelta(days=10), status="error")
    c_ = emu.add_item(name="autobk_db", resource_id="r-2", resource_name="ecs-db-01",
                      created_at=base + timedelta(days=20), resource_type="OS::Cinder::Volume")
    async with cloud(emu) as c:
        by = {
            "status": await c.list(status="error"),
            "checkpoint_id": await c.list(checkpoint_id=CID),
            "resource_id": await c.list(resource_id="r-2"),
            "name": await c.list(name="AUTOBK"),
            "resource_name": await c.list(resource_name="db"),
            "start_time": await c.list(start_time="2024-01-05T00:00:00"),
            "end_time": await c.list(end_time="2024-01-15T00:00:00.000000"),
            "policy_id": await c.list(policy_id="pol-1"),
            "resource_type": await c.list(resource_type="OS::Cinder::Volume"),
        }
    assert set(ids(by["status"])) == {b["id"]}
    assert set(ids(by["checkpoint_id"])) == {a["id"], b["id"]}
    assert set(ids(by["resource_id"])) == {b["id"], c_["id"]}
    assert set(ids(by["name"])) == {a["id"], c_["id"]}  # name is a fuzzy (substring) search
    assert set(ids(by["resource_name"])) == {b["id"], c_["id"]}
    assert set(ids(by["start_time"])) == {b["id"], c_["id"]}
    assert set(ids(by["end_time"])) == {a["id"], b["id"]}
    assert set(ids(by["policy_id"])) == {a["id"]}
    assert set(ids(by["resource_type"])) == {c_["id"]}


async def test_list_sorts_newest_first_by_default_and_on_request(clock):
    """Without sort the list is created_at descending; sort=created_at:asc and name:asc reorder it."""
    emu = Emulator(scenario(), clock=clock)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    made = [emu.add_item(name=f"bk_{n}", created_at=base + timedelta(days=n))["id"] for n in (2, 0, 1)]
    async with cloud(emu) as c:
        default = await c.list()
        ascending = await c.list(sort="created_at:asc")
        by_name = await c.list(sort="name:asc")
        bad = await c.list(sort="size:asc")
    assert ids(default) == [made[0], made[2], made[1]]
    assert ids(ascending) == [made[1], made[2], made[0]]
    assert ids(by_name) == [made[1], made[2], made[0]]
    assert bad.status == 400


async def test_paging_with_limit_and_marker_walks_every_item_once(clock):
    """limit and marker (the last id of the previous page) walk the list in pages without gaps or repeats."""
    emu = Emulator(scenario(), seed=3, clock=clock)
    emu.seed_random(12)
    expected = {item["id"] for item in emu.items()}
    seen: list[str] = []
    pages = 0
    async with cloud(emu) as c:
        marker = None
        while True:
            params = {"limit": 7, **({"marker": marker} if marker else {})}
            page = ids(await c.list(**params))
            if not page:
                break
            pages += 1
            seen += page
            marker = page[-1]
    assert pages >= 3
    assert len(seen) == len(expected) and set(seen) == expected


async def test_marker_of_a_vanished_item_still_pages_on(clock):
    """A marker whose backup was deleted meanwhile still continues after where it stood."""
    emu = Emulator(scenario(delete_duration_s=(1, 1)), clock=clock)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    made = [emu.add_item(created_at=base + timedelta(days=n)) for n in range(4)]
    async with cloud(emu) as c:
        first = ids(await c.list(limit=2, sort="created_at:asc"))
        await c.delete_item(made[1]["checkpoint_id"], first[-1])
        clock.advance(2)
        rest = ids(await c.list(limit=2, marker=first[-1], sort="created_at:asc"))
        unknown = await c.list(marker="no-such-id")
    assert first == [made[0]["id"], made[1]["id"]]
    assert rest == [made[2]["id"], made[3]["id"]]
    assert unknown.status == 400


async def test_vanished_marker_fault_answers_404_to_pages_with_a_marker(clock):
    """Kind vanished-marker answers a page asked with a marker 404 CSBS.3001, as a service answers a marker whose
    backup was deleted since; a page without a marker is served as usual."""
    emu = Emulator(scenario(faults=(FaultRule("list", "vanished-marker"),)), seed=3, clock=clock)
    emu.seed_random(3)
    async with cloud(emu) as c:
        first = await c.list(limit=2)
        after = await c.list(limit=2, marker=ids(first)[-1])
    assert first.status == 200 and len(ids(first)) == 2
    assert (after.status, after.body["error_code"]) == (404, "CSBS.3001")


async def test_offset_and_default_limit(clock):
    """offset skips items; without limit a page holds at most 1000 items."""
    emu = Emulator(scenario(), clock=clock)
    for _ in range(1005):
        emu.add_item()
    async with cloud(emu) as c:
        full = await c.list()
        skipped = await c.list(offset=1000)
        bad_limit = await c.list(limit=0)
    assert len(full.body["checkpoint_items"]) == 1000
    assert len(skipped.body["checkpoint_items"]) == 5
    assert bad_limit.status == 400


async def test_count_uses_the_filters_and_ignores_paging(clock):
    """GET checkpoint_items/count answers {"count": N} for the filters, whatever limit says."""
    emu = Emulator(scenario(), clock=clock)
    for status in ("available", "available", "error"):
        emu.add_item(status=status)
    async with cloud(emu) as c:
        everything = await c.count(limit=1)
        errors = await c.count(status="error")
    assert everything.body == {"count": 3}
    assert errors.body == {"count": 1}


async def test_unknown_provider_is_400_csbs_9001(clock):
    """A DELETE with another provider id answers 400 CSBS.9001 and deletes nothing."""
    emu = Emulator(scenario(), clock=clock)
    emu.add_item(checkpoint_id=CID, item_id=ITEM)
    async with cloud(emu) as c:
        answer = await c.delete_record(CID, provider="00000000-0000-4000-8000-000000000000")
    assert answer.status == 400 and answer.body["error_code"] == "CSBS.9001"
    assert emu.stats.tasks_started == 0


async def test_every_answer_carries_a_request_id(clock):
    """Successes, errors, 401s, unknown paths and methods (the gateway's 404) and faults all carry X-Request-Id."""
    from worker.emulator import FaultRule

    emu = Emulator(scenario(faults=(FaultRule("count", "503"),)), clock=clock)
    emu.add_item(checkpoint_id=CID, item_id=ITEM)
    async with cloud(emu) as c:
        answers = [
            await c.get_item(ITEM), await c.get_item("missing"), await c.count(),
            await c.call("GET", f"/v1/{PROJECT}/checkpoint_items", headers={"X-Auth-Token": "bad"}),
            await c.call("GET", "/no/such/path"), await c.call("PUT", f"/v1/{PROJECT}/checkpoint_items"),
            await c.delete_item(CID, ITEM), await c.call("POST", "/v3/auth/tokens", json={}),
        ]
    assert [a.status for a in answers] == [200, 404, 503, 401, 404, 404, 200, 400]
    request_ids = [a.headers.get("X-Request-Id") for a in answers]
    assert all(request_ids) and len(set(request_ids)) == len(request_ids)
    assert all(set(a.body) == {"error_code", "error_msg"} for a in answers if a.status >= 400)
