"""CBR's own fault answers (the rules themselves are the core's: ``core/test_faults.py``)."""

from __future__ import annotations

from tests.emulator.cbr.conftest import FakeClock, cloud, scenario
from worker.emulator.cbr import CbrEmulator, CbrFaultRule


async def test_429_is_apig_0308_over_a_rate_limit_per_second(clock: FakeClock) -> None:
    """Kind 429 answers the gateway's throttling body with its limit per second, and no Retry-After."""
    emu = CbrEmulator(scenario(faults=(CbrFaultRule("list_backups", "429"),)), clock=clock)
    async with cloud(emu) as c:
        reply = await c.list()
    assert (reply.status, reply.body["error_code"]) == (429, "APIG.0308")
    assert reply.body["error_msg"].endswith("over ratelimit,limit:20,time:1 second")
    assert "Retry-After" not in reply.headers


async def test_an_applied_500_in_sync_mode_has_deleted_the_backup(clock: FakeClock) -> None:
    """With delete_mode sync, the DELETE an applied-500 answers 500 BackupService.9910 has removed the backup."""
    emu = CbrEmulator(scenario(delete_mode="sync", faults=(CbrFaultRule("delete", "applied-500"),)), clock=clock)
    backup_id = emu.add_backup()["id"]
    async with cloud(emu) as c:
        reply = await c.delete(backup_id)
        after = await c.status_of(backup_id)
    assert (reply.status, reply.body["error_code"], after) == (500, "BackupService.9910", 404)
