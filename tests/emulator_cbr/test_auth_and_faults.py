"""Who may call (token, password sign-in, AK/SK signatures, 403), the faults per route, and the
scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.emulator_cbr.conftest import PROJECT, FakeClock, cloud, scenario
from worker.emulator.cbr import CbrEmulator, CbrFaultRule, CbrScenario, serve
from worker.emulator.scenario import AccessKey, IamUser, ScenarioError
from worker.emulator.signer import sign

EXAMPLE = Path(__file__).parents[2] / "config" / "scenario.cbr.example.yaml"
KEY = AccessKey(ak="EMULATORAK0000000001", sk="EmulatorSecretKey000000000000000000000000", user="aksk-user")


async def test_a_missing_or_wrong_token_is_401_and_a_forbidden_user_403(clock: FakeClock) -> None:
    """No token or a wrong one answers 401 APIG.0301; a user without rights 403."""
    emu = CbrEmulator(scenario(tokens={"good": "u1", "nope": "u2"}, forbidden_users=frozenset({"u2"})), clock=clock)
    async with cloud(emu, token=None) as c:
        missing = await c.list()
        wrong = await c.call("GET", f"/v3/{PROJECT}/backups", headers={"X-Auth-Token": "bad"})
        refused = await c.call("GET", f"/v3/{PROJECT}/backups", headers={"X-Auth-Token": "nope"})
        fine = await c.call("GET", f"/v3/{PROJECT}/backups", headers={"X-Auth-Token": "good"})
    assert (missing.status, wrong.status, refused.status, fine.status) == (401, 401, 403, 200)
    assert wrong.body["error_code"] == "APIG.0301"
    assert "good" not in str(wrong.body) and "bad" not in wrong.body["error_msg"]


async def test_a_password_sign_in_gives_a_token_the_cbr_routes_accept(clock: FakeClock) -> None:
    """POST /v3/auth/tokens answers 201 with X-Subject-Token, usable on CBR calls."""
    user = IamUser(name="cbr-demo", password="pw-123", domain="dom")
    emu = CbrEmulator(scenario(users=(user,)), clock=clock)
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "cbr-demo", "password": "pw-123", "domain": {"name": "dom"}}}},
        "scope": {"project": {"id": PROJECT}}}}
    async with cloud(emu, token=None) as c:
        login = await c.call("POST", "/v3/auth/tokens", json=body)
        token = login.headers["X-Subject-Token"]
        listed = await c.call("GET", f"/v3/{PROJECT}/vaults", headers={"X-Auth-Token": token})
    assert (login.status, listed.status) == (201, 200)


async def test_an_ak_sk_signed_request_is_verified(clock: FakeClock) -> None:
    """A correct SDK-HMAC-SHA256 signature passes; a wrong secret gets 401."""
    emu = CbrEmulator(scenario(access_keys=(KEY,)), clock=clock)
    async with serve(emu) as base, aiohttp.ClientSession() as session:
        url = f"{base}/v3/{PROJECT}/backups?limit=1"
        statuses = []
        for sk in (KEY.sk, "WrongSecretKey0000000000000000000000000000"):
            host = base.removeprefix("http://")
            headers = sign(KEY.ak, sk, "GET", url, {"Host": host, "X-Project-Id": PROJECT})
            async with session.get(url, headers=headers) as response:
                statuses.append(response.status)
    assert statuses == [200, 401]


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("429", 429, "APIG.0308"), ("500", 500, "BackupService.9910"), ("503", 503, "APIG.0201"),
    ("401", 401, "APIGW.0301"), ("403", 403, "BackupService.8600"),
])
async def test_a_fault_answers_in_the_documented_shape(clock: FakeClock, kind: str, status: int, code: str) -> None:
    """Each fault kind answers its status and code once (times=1), with X-Request-Id, then the route works."""
    emu = CbrEmulator(scenario(faults=(CbrFaultRule("list_backups", kind, times=1),)), clock=clock)
    async with cloud(emu) as c:
        first, second = await c.list(), await c.list()
    assert (first.status, first.body["error_code"]) == (status, code)
    assert "X-Request-Id" in first.headers and "Retry-After" not in first.headers
    assert second.status == 200
    assert emu.stats.faults_by_kind[kind] == 1


async def test_a_throttle_may_carry_retry_after_and_a_fault_may_hit_one_route_only(clock: FakeClock) -> None:
    """429-retry-after sends Retry-After; a rule on get_backup leaves the listing alone."""
    rule = CbrFaultRule("get_backup", "429-retry-after", retry_after_s=0.2)
    emu = CbrEmulator(scenario(faults=(rule,)), clock=clock)
    backup_id = emu.add_backup()["id"]
    async with cloud(emu) as c:
        throttled = await c.get(backup_id)
        listed = await c.list()
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "0.2")
    assert listed.status == 200


async def test_an_applied_500_deletes_but_answers_500(clock: FakeClock) -> None:
    """The DELETE is done (the backup goes on to be deleted) yet the user sees 500 BackupService.9910."""
    emu = CbrEmulator(scenario(delete_mode="sync", faults=(CbrFaultRule("delete", "applied-500"),)), clock=clock)
    backup_id = emu.add_backup()["id"]
    async with cloud(emu) as c:
        reply = await c.delete(backup_id)
        after = await c.status_of(backup_id)
    assert (reply.status, reply.body["error_code"], after) == (500, "BackupService.9910", 404)


async def test_a_dropped_connection_gets_no_answer_and_slow_answers_late(clock: FakeClock) -> None:
    """drop closes the connection unanswered; slow answers normally after its delay."""
    faults = (CbrFaultRule("get_backup", "drop", times=1), CbrFaultRule("list_vaults", "slow", delay_s=0.05))
    emu = CbrEmulator(scenario(faults=faults), clock=clock)
    backup_id = emu.add_backup()["id"]
    async with cloud(emu) as c:
        with pytest.raises(aiohttp.ClientError):
            await c.get(backup_id)
        slow = await c.call("GET", f"/v3/{PROJECT}/vaults")
    assert slow.status == 200
    assert emu.stats.faults_by_kind["slow"] == 1
    assert emu.stats.requests_by_route["get_backup"] == 1


def test_the_example_scenario_file_reads_and_unknown_keys_are_named(tmp_path: Path) -> None:
    """config/scenario.cbr.example.yaml is valid; a typo names the file and the key."""
    loaded = CbrScenario.from_yaml(EXAMPLE)
    assert (loaded.repeat_delete, loaded.gone_answer, loaded.faults[0].kind) == ("2003", "404", "429-retry-after")
    bad = tmp_path / "bad.yaml"
    bad.write_text("project_id: p\ngone_answr: '401'\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml.*gone_answr"):
        CbrScenario.from_yaml(bad)
    with pytest.raises(ScenarioError, match="time_form"):
        CbrScenario.from_mapping({"project_id": "p", "time_form": "local"})


def test_the_same_seed_gives_the_same_backups() -> None:
    """Seeding is deterministic: two emulators with one seed make identical backups."""
    def made(seed: int) -> list[Any]:
        emu = CbrEmulator(scenario(), seed=seed, clock=lambda: 0.0, wall_clock=lambda: 1.7e9)
        return [emu.backup(i) for i in emu.seed_random(4, vault_names=("default", "policy-a"))]

    assert made(7) == made(7) != made(8)
