"""Listing: filters, own_type, children, paging (offset, marker, count), time forms, bare codes,
vaults, restore points and operation-log filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.emulator.cbr.conftest import PROJECT, FakeClock, cloud, scenario
from worker.emulator.cbr import CbrEmulator

FORMS = {
    "offset": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$",
    "naive": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$",
    "z": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
}


async def test_filters_select_by_vault_status_and_ownership(clock: FakeClock) -> None:
    """vault_id and repeated status filter; shared-in backups appear only with own_type shared/all_granted."""
    emu = CbrEmulator(scenario(), seed=3, clock=clock)
    daily = emu.vault_id("policy-daily")
    a = emu.add_backup(vault_id=daily)["id"]
    b = emu.add_backup(vault_id=daily, status="error")["id"]
    emu.add_backup(status="protecting")
    shared = emu.add_backup(shared=True)["id"]
    async with cloud(emu) as c:
        in_daily = (await c.list({"vault_id": daily})).body
        by_status = (await c.list([("status", "available"), ("status", "error")])).body
        only_shared = (await c.list({"own_type": "shared"})).body
        everything = (await c.list({"own_type": "all_granted"})).body
        bad = await c.list({"own_type": "mine"})
    assert {x["id"] for x in in_daily["backups"]} == {a, b} and in_daily["count"] == 2
    assert {x["id"] for x in by_status["backups"]} == {a, b}
    assert [x["id"] for x in only_shared["backups"]] == [shared]
    assert everything["count"] == 4
    assert (bad.status, bad.body["error_code"]) == (400, "BackupService.9900")


async def test_children_are_listed_with_parent_id_or_only_by_filter(clock: FakeClock) -> None:
    """Point 8: children show with parent_id; with children_listed off only a parent_id filter finds them."""
    for listed in (True, False):
        emu = CbrEmulator(scenario(children_listed=listed), seed=3, clock=clock)
        parent = emu.add_backup(children=2)
        async with cloud(emu) as c:
            top = (await c.list()).body
            kids = (await c.list({"parent_id": parent["id"]})).body
        assert top["count"] == (3 if listed else 1)
        assert {k["parent_id"] for k in kids["backups"]} == {parent["id"]} and kids["count"] == 2


async def test_paging_by_offset_and_marker_with_count_as_the_total(clock: FakeClock) -> None:
    """limit+offset and marker walk the list; count is the total, offset and limit are echoed."""
    emu = CbrEmulator(scenario(), seed=3, clock=clock)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [emu.add_backup(created_at=start + timedelta(hours=n))["id"] for n in range(5)]
    async with cloud(emu) as c:
        first = (await c.list({"limit": 2, "sort": "created_at:asc"})).body
        second = (await c.list({"limit": 2, "offset": 2, "sort": "created_at:asc"})).body
        after = (await c.list({"limit": 2, "marker": ids[3], "sort": "created_at:asc"})).body
        window = (await c.list({"start_time": "2025-01-01T01:30:00Z", "end_time": "2025-01-01T03:30:00Z"})).body
    assert [x["id"] for x in first["backups"]] == ids[:2]
    assert (first["count"], first["offset"], first["limit"]) == (5, 0, 2)
    assert [x["id"] for x in second["backups"]] == ids[2:4]
    assert [x["id"] for x in after["backups"]] == ids[4:]
    assert {x["id"] for x in window["backups"]} == {ids[2], ids[3]}


async def test_a_marker_of_a_deleted_backup_still_works(clock: FakeClock) -> None:
    """Paging while deleting: the marker's backup is gone, the next page starts where it stood."""
    emu = CbrEmulator(scenario(delete_mode="sync"), seed=3, clock=clock)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [emu.add_backup(created_at=start + timedelta(hours=n))["id"] for n in range(3)]
    async with cloud(emu) as c:
        await c.delete(ids[1])
        after = (await c.list({"marker": ids[1], "sort": "created_at:asc"})).body
    assert [x["id"] for x in after["backups"]] == [ids[2]]


async def test_paging_quirks_offset_zero_refused_and_count_as_page_size(clock: FakeClock) -> None:
    """Point 13: offset=0 may answer 400 BackupService.9900; count may be the page's size."""
    emu = CbrEmulator(scenario(offset_zero="refused", count_is_total=False), seed=3, clock=clock)
    for _ in range(3):
        emu.add_backup()
    async with cloud(emu) as c:
        zero = await c.list({"offset": 0})
        page = (await c.list({"limit": 2})).body
        too_big = await c.list({"limit": 1001})
    assert (zero.status, zero.body["error_code"]) == (400, "BackupService.9900")
    assert page["count"] == 2
    assert too_big.status == 400


async def test_every_time_form_can_be_served(clock: FakeClock) -> None:
    """Point 14: created_at in the offset, zone-less and Z forms."""
    for form, pattern in FORMS.items():
        emu = CbrEmulator(scenario(time_form=form), seed=3, clock=clock)
        backup = emu.add_backup(auto=True)
        assert re.match(pattern, backup["created_at"]), (form, backup["created_at"])
        assert re.match(pattern, backup["expired_at"])


async def test_error_codes_can_come_bare(clock: FakeClock) -> None:
    """Point 15: HW-DEF writes 6200 for BackupService.6200; gateway codes keep their prefix."""
    emu = CbrEmulator(scenario(code_form="bare"), seed=3, clock=clock)
    async with cloud(emu) as c:
        gone = await c.get("00000000-0000-4000-8000-000000000000")
        unknown = await c.call("GET", "/nothing")
    assert gone.body["error_code"] == "6200"
    assert unknown.body["error_code"] == "APIGW.0101"


async def test_vaults_and_restore_points_are_served(clock: FakeClock) -> None:
    """Vaults list and get (locked, name, billing.status); a restore point answers 404 or deleted at the end."""
    for after in ("404", "deleted"):
        emu = CbrEmulator(scenario(delete_mode="sync", checkpoint_after=after), seed=3, clock=clock)
        locked = emu.add_vault("policy-weekly", locked=True)
        backup = emu.add_backup(vault_id=locked["id"])
        async with cloud(emu) as c:
            vaults = (await c.call("GET", f"/v3/{PROJECT}/vaults", params={"name": "policy-weekly"})).body
            one = (await c.call("GET", f"/v3/{PROJECT}/vaults/{locked['id']}")).body["vault"]
            missing = await c.call("GET", f"/v3/{PROJECT}/vaults/00000000-0000-4000-8000-000000000000")
            point = (await c.call("GET", f"/v3/{PROJECT}/checkpoints/{backup['checkpoint_id']}")).body
            await c.delete(backup["id"])
            ended = await c.call("GET", f"/v3/{PROJECT}/checkpoints/{backup['checkpoint_id']}")
        assert vaults["count"] == 1 and vaults["vaults"][0]["id"] == locked["id"]
        assert (one["locked"], one["name"], one["billing"]["status"]) == (True, "policy-weekly", "available")
        assert (missing.status, missing.body["error_code"]) == (404, "BackupService.6105")
        assert point["checkpoint"]["status"] == "available"
        assert point["checkpoint"]["vault"]["resources"][0]["id"] == backup["resource_id"]
        if after == "404":
            assert ended.status == 404
        else:
            assert (ended.status, ended.body["checkpoint"]["status"]) == (200, "deleted")


async def test_operation_logs_filter_by_vault_resource_and_time(clock: FakeClock) -> None:
    """Delete logs are found by vault_id, resource_id and start_time, never by backup id."""
    emu = CbrEmulator(scenario(delete_mode="sync"), seed=3, clock=clock)
    one = emu.add_backup(resource_id="94eba8b2-acc9-4d82-badc-127144cc5526")
    two = emu.add_backup(vault_id=emu.vault_id("other"))
    async with cloud(emu) as c:
        await c.delete(one["id"])
        await c.delete(two["id"])
        by_resource = (await c.logs({"resource_id": one["resource_id"]})).body
        by_vault = (await c.logs({"vault_id": two["vault_id"], "limit": 1})).body
        future = (await c.logs({"start_time": "2999-01-01T00:00:00Z"})).body
    assert [x["extra_info"]["delete"]["backup_id"] for x in by_resource["operation_logs"]] == [one["id"]]
    assert by_vault["count"] == 1 and by_vault["operation_logs"][0]["vault_name"] == "other"
    assert future["count"] == 0
