"""The CBR client against the emulator over loopback: each call, every page, the gone readings,
credentials, retries, and the request counts."""

from __future__ import annotations

from aiohttp import web

from tests.cbr.conftest import PROJECT, app_on_loopback, cloud, scenario
from worker.cloud.auth import AkSkAuth, TokenAuth
from worker.emulator import AccessKey
from worker.emulator.cbr import CbrEmulator, CbrFaultRule
from worker.engine.answer import AnswerKind
from worker.engine.sighting import Seen
from worker.services.cbr.client import CbrClient
from worker.services.cbr.observe import read_answer

MISSING = "00000000-0000-4000-8000-000000000000"
KEY = AccessKey(ak="EMULATORAK0000000001", sk="EmulatorSecretKey000000000000000000000000", user="aksk-user")


async def test_delete_then_follow_to_gone() -> None:
    """A DELETE is OK, the backup reads as running, then GONE; calls are counted per route."""
    emu = CbrEmulator(scenario(delete_duration_s=(0.0, 0.0)), seed=2)
    backup_id = str(emu.add_backup(children=1)["id"])
    async with cloud(emu) as client:
        deleted = await client.delete_backup(backup_id)
        after = await client.get_backup(backup_id)
    assert (deleted.kind, deleted.status, deleted.data) == (AnswerKind.OK, 204, None)
    assert after.kind is AnswerKind.GONE and after.error_code == "BackupService.6200"
    assert read_answer(after) is not None and read_answer(after).seen is Seen.GONE  # type: ignore[union-attr]
    assert client.calls == {"delete": 1, "get_backup": 1}


async def test_a_delete_answered_202_with_a_body_is_ok() -> None:
    """Point 4: any 2xx is accepted and its body ignored."""
    emu = CbrEmulator(scenario(delete_status=202), seed=2)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu) as client:
        answer = await client.delete_backup(backup_id)
    assert (answer.kind, answer.status) == (AnswerKind.OK, 202)


async def test_listing_reads_every_page_without_sending_offset_zero() -> None:
    """Point 13: with offset=0 refused and count as the page size, all 7 backups come back, once each."""
    emu = CbrEmulator(scenario(offset_zero="refused", count_is_total=False), seed=2)
    ids = {str(emu.add_backup()["id"]) for _ in range(7)}
    async with cloud(emu, page_size=3) as client:
        answer = await client.list_backups()
    assert answer.kind is AnswerKind.OK
    assert sorted(b["id"] for b in answer.data) == sorted(ids)
    assert client.calls["list_backups"] == 3


async def test_listing_filters_repeat_status_and_pass_vault_ids() -> None:
    """status may be a list (status=available&status=error); vault_id narrows to one vault."""
    emu = CbrEmulator(scenario(), seed=2)
    vault = emu.vault_id("policy-daily")
    keep = {str(emu.add_backup(vault_id=vault)["id"]), str(emu.add_backup(vault_id=vault, status="error")["id"])}
    emu.add_backup(vault_id=vault, status="protecting")
    emu.add_backup()
    async with cloud(emu) as client:
        answer = await client.list_backups(vault_id=vault, status=["available", "error"])
        vaults = await client.list_vaults(name="policy-daily")
        one = await client.get_vault(vault)
    assert {b["id"] for b in answer.data} == keep
    assert [v["id"] for v in vaults.data] == [vault] and one.data["name"] == "policy-daily"


async def test_a_throttled_page_is_retried() -> None:
    """A 429 on a page is waited out and the listing completes."""
    emu = CbrEmulator(scenario(faults=(CbrFaultRule("list_backups", "429-retry-after", times=1,
                                                    retry_after_s=0.01),)), seed=2)
    emu.add_backup()
    async with cloud(emu) as client:
        answer = await client.list_backups()
    assert answer.kind is AnswerKind.OK and len(answer.data) == 1
    assert client.calls["list_backups"] == 2


async def test_the_malformed_url_401_is_gone_only_when_the_credentials_work() -> None:
    """Point 6: with good credentials the 401 reads GONE; for a wrong project id it stays FATAL."""
    emu = CbrEmulator(scenario(gone_answer="401"), seed=2)
    async with cloud(emu) as client:
        gone = await client.get_backup(MISSING)
        deleted = await client.delete_backup(MISSING)
    assert (gone.kind, gone.status, deleted.kind) == (AnswerKind.GONE, 401, AnswerKind.GONE)
    assert client.calls["check_credentials"] == 2
    async with cloud(emu, project_id="ffffffffffffffffffffffffffffffff") as wrong:
        refused = await wrong.get_backup(MISSING)
    assert refused.kind is AnswerKind.FATAL


async def test_a_wrong_endpoint_path_is_no_service_not_gone() -> None:
    """A gateway 404 APIGW.0101 (e.g. the endpoint has an extra path) is NO_SERVICE."""
    emu = CbrEmulator(scenario(), seed=2)
    async with cloud(emu) as client:
        client.project_url = client.project_url.parent.parent / "v9" / PROJECT
        answer = await client.get_backup(MISSING)
    assert answer.kind is AnswerKind.NO_SERVICE and answer.error_code == "APIGW.0101"


async def test_refusals_come_back_with_their_kind() -> None:
    """Image-backed is PERMANENT (6204); a repeated DELETE is BUSY (CSBS.2003); a bad token is FATAL."""
    emu = CbrEmulator(scenario(), seed=2)
    image = str(emu.add_backup(image_backed=True)["id"])
    plain = str(emu.add_backup()["id"])
    async with cloud(emu) as client:
        refused = await client.delete_backup(image)
        await client.delete_backup(plain)
        repeat = await client.delete_backup(plain)
        fine = await client.check_credentials()
    assert (refused.kind, refused.error_code) == (AnswerKind.PERMANENT, "BackupService.6204")
    assert (repeat.kind, repeat.error_code) == (AnswerKind.BUSY, "CSBS.2003")
    assert fine.kind is AnswerKind.OK
    async with cloud(emu, auth=TokenAuth("not-a-token")) as client:
        assert (await client.check_credentials()).kind is AnswerKind.FATAL


async def test_ak_sk_signing_is_accepted_by_the_emulator() -> None:
    """AK/SK signs CBR calls as CSBS ones; the emulator's verifier accepts them."""
    emu = CbrEmulator(scenario(access_keys=(KEY,)), seed=2)
    backup_id = str(emu.add_backup()["id"])
    async with cloud(emu, auth=AkSkAuth(KEY.ak, KEY.sk, PROJECT)) as client:
        answer = await client.get_backup(backup_id)
    assert answer.kind is AnswerKind.OK and answer.data["id"] == backup_id


async def test_operation_logs_and_checkpoints_are_read() -> None:
    """A delete log is found by operation_type and matched on extra_info.delete.backup_id."""
    emu = CbrEmulator(scenario(delete_mode="sync"), seed=2)
    backup = emu.add_backup()
    async with cloud(emu) as client:
        point = await client.get_checkpoint(str(backup["checkpoint_id"]))
        await client.delete_backup(str(backup["id"]))
        logs = await client.list_operation_logs(operation_type="delete", vault_id=str(backup["vault_id"]))
    assert point.kind is AnswerKind.OK and point.data["status"] == "available"
    assert [log["extra_info"]["delete"]["backup_id"] for log in logs.data] == [backup["id"]]


async def test_every_request_says_x_language_en_us() -> None:
    """CHNSZ sends X-Language: en-us so messages come in English; so does the client."""
    seen: list[str | None] = []

    async def vaults(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Language"))
        return web.json_response({"vaults": [], "count": 0})

    app = web.Application()
    app.router.add_get(f"/v3/{PROJECT}/vaults", vaults)
    async with app_on_loopback(app) as url, CbrClient(endpoint=url, project_id=PROJECT, auth=TokenAuth("t")) as client:
        answer = await client.check_credentials()
    assert answer.kind is AnswerKind.OK and seen == ["en-us"]


async def test_a_dropped_connection_is_transient() -> None:
    """No HTTP answer at all is TRANSIENT, and it is one request on the wire."""
    emu = CbrEmulator(scenario(faults=(CbrFaultRule("get_backup", "drop"),)), seed=2)
    async with cloud(emu) as client:
        answer = await client.get_backup(MISSING)
    assert answer.kind is AnswerKind.TRANSIENT and answer.status is None
    assert emu.stats.requests_by_route["get_backup"] == 1
