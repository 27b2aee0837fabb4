"""What a DELETE is refused with: image-backed, locked vaults, shared-in backups, children, busy states,
gone backups (404 or the 401 "Malformed request url"), and paths the API does not have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.emulator.cbr.conftest import PROJECT, FakeClock, cloud, scenario
from worker.emulator.cbr import CbrEmulator


async def _delete_code(emu: CbrEmulator, backup_id: str) -> tuple[int, str | None]:
    async with cloud(emu) as c:
        reply = await c.delete(backup_id)
    return reply.status, (reply.body or {}).get("error_code")


async def test_an_image_backed_backup_is_refused_with_6204_unless_the_switch_is_off(clock: FakeClock) -> None:
    """Point 11: os_images_data non-empty answers 400 BackupService.6204; image_blocks off lets it go."""
    emu = CbrEmulator(scenario(), seed=1, clock=clock)
    backup = emu.add_backup(image_backed=True)
    assert backup["extend_info"]["os_images_data"]
    assert await _delete_code(emu, backup["id"]) == (400, "BackupService.6204")
    lenient = CbrEmulator(scenario(image_blocks=False), seed=1, clock=clock)
    assert await _delete_code(lenient, lenient.add_backup(image_backed=True)["id"]) == (204, None)


async def test_a_locked_vault_keeps_automatic_backups_until_they_expire(clock: FakeClock) -> None:
    """Point 10: 6220 for an automatic backup before expired_at; manual and expired ones may go."""
    emu = CbrEmulator(scenario(), seed=1, clock=clock)
    vault = emu.add_vault("policy-daily", locked=True)
    assert vault["locked"] is True
    now = datetime.now(UTC)
    auto = emu.add_backup(vault_id=vault["id"], auto=True, expired_at=now + timedelta(days=3))
    manual = emu.add_backup(vault_id=vault["id"])
    expired = emu.add_backup(vault_id=vault["id"], auto=True, expired_at=now - timedelta(days=1))
    assert auto["extend_info"]["auto_trigger"] is True
    assert await _delete_code(emu, auto["id"]) == (400, "BackupService.6220")
    assert await _delete_code(emu, manual["id"]) == (204, None)
    assert await _delete_code(emu, expired["id"]) == (204, None)


@pytest.mark.parametrize(("mode", "expected"), [("403", (403, "BackupService.8600")),
                                                 ("6711", (400, "BackupService.6711"))])
async def test_a_shared_in_backup_cannot_be_deleted_by_the_recipient(
        clock: FakeClock, mode: str, expected: tuple[int, str]) -> None:
    """Point 9: our documented choice is 403 by default; the other reading is 400 BackupService.6711."""
    emu = CbrEmulator(scenario(shared_delete=mode), seed=1, clock=clock)
    shared = emu.add_backup(shared=True)
    assert shared["project_id"] != PROJECT
    assert await _delete_code(emu, shared["id"]) == expected


async def test_a_child_alone_is_refused_or_deleted_alone(clock: FakeClock) -> None:
    """Point 8: a per-disk child's own DELETE answers 6201, or deletes only that child."""
    emu = CbrEmulator(scenario(), seed=1, clock=clock)
    parent = emu.add_backup(children=2)
    assert await _delete_code(emu, parent["children"][0]["id"]) == (400, "BackupService.6201")
    alone = CbrEmulator(scenario(child_delete="alone", delete_mode="sync"), seed=1, clock=clock)
    parent = alone.add_backup(children=2)
    assert await _delete_code(alone, parent["children"][0]["id"]) == (204, None)
    assert len(alone.backup(parent["id"])["children"]) == 1  # type: ignore[index]


async def test_busy_backups_and_vaults_are_refused(clock: FakeClock) -> None:
    """A backup being backed up answers 6216; a vault being deleted answers 6112."""
    emu = CbrEmulator(scenario(), seed=1, clock=clock)
    protecting = emu.add_backup(status="protecting")
    deleting_vault = emu.add_vault("old", billing_status="deleting")
    in_vault = emu.add_backup(vault_id=deleting_vault["id"])
    assert await _delete_code(emu, protecting["id"]) == (400, "BackupService.6216")
    assert await _delete_code(emu, in_vault["id"]) == (400, "BackupService.6112")


async def test_a_gone_backup_answers_404_or_the_malformed_url_401(clock: FakeClock) -> None:
    """Point 6: the scenario picks 404 BackupService.6200 or the TF-HW 401 body, for GET and DELETE."""
    missing = "00000000-0000-4000-8000-000000000000"
    emu = CbrEmulator(scenario(gone_answer="401"), seed=1, clock=clock)
    async with cloud(emu) as c:
        for reply in (await c.get(missing), await c.delete(missing)):
            assert reply.status == 401
            assert reply.body == {"unauthorized": {"code": "401", "message": "Malformed request url"}}
    assert await _delete_code(CbrEmulator(scenario(), clock=clock), missing) == (404, "BackupService.6200")


async def test_another_project_is_refused_and_unknown_paths_are_the_gateways_404(clock: FakeClock) -> None:
    """A wrong project id answers 403 (or the malformed 401); an unknown path 404 APIGW.0101, never 6200."""
    emu = CbrEmulator(scenario(), seed=1, clock=clock)
    async with cloud(emu) as c:
        wrong = await c.call("GET", "/v3/ffffffffffffffffffffffffffffffff/vaults")
        unknown = await c.call("GET", f"/v3/{PROJECT}/backupz")
        old_api = await c.call("GET", f"/v1/{PROJECT}/checkpoint_items")
    assert wrong.status == 403
    assert (unknown.status, unknown.body["error_code"]) == (404, "APIGW.0101")
    assert (old_api.status, old_api.body["error_code"]) == (404, "APIGW.0101")
    assert "X-Request-Id" in unknown.headers
    malformed = CbrEmulator(scenario(gone_answer="401"), seed=1, clock=clock)
    async with cloud(malformed) as c:
        assert (await c.call("GET", "/v3/ffffffffffffffffffffffffffffffff/vaults")).status == 401
