"""CSBS's own refusals of a caller: forbidden tokens and the disabled project's 400 BackupService.4008 (the
sign-in, signatures and the 403 of a forbidden user or another project are the core's: ``core/test_auth.py``)."""

from __future__ import annotations

from tests.emulator.csbs.conftest import PROJECT, TOKEN, cloud, scenario
from worker.emulator import Emulator, IamUser

LIST_PATH = f"/v1/{PROJECT}/checkpoint_items"
ALICE = IamUser(name="alice", password="wonderland", domain="acme")


async def test_forbidden_token_and_user_get_403(clock):
    """A token or user listed as forbidden authenticates but gets 403 APIG.0302 on CSBS calls."""
    emu = Emulator(scenario(tokens={TOKEN: "user-1", "blocked": "user-2", "other": "user-3"},
                            forbidden_tokens=frozenset({"blocked"}), forbidden_users=frozenset({"user-3"})),
                   clock=clock)
    async with cloud(emu) as c:
        allowed = await c.list()
        by_token = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": "blocked"})
        by_user = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": "other"})
    assert allowed.status == 200
    assert (by_token.status, by_token.body["error_code"]) == (403, "APIG.0302")
    assert by_user.status == 403


async def test_disabled_project_refuses_every_call_with_4008(clock):
    """In a project that may not use CSBS every call answers 400 BackupService.4008."""
    emu = Emulator(scenario(disabled_projects=frozenset({PROJECT})), clock=clock)
    [(record, [item])] = emu.seed_plan([(None, ["3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"])])
    async with cloud(emu) as c:
        answers = [await c.list(), await c.count(), await c.get_item(item), await c.delete_record(record)]
    assert {a.status for a in answers} == {400}
    assert {a.body["error_code"] for a in answers} == {"BackupService.4008"}


async def test_a_disabled_project_still_signs_in_then_gets_4008(clock):
    """A password sign-in may be scoped to a disabled project; its token then gets 400 BackupService.4008."""
    other = "f" * 32
    emu = Emulator(scenario(users=(ALICE,), disabled_projects=frozenset({other})), clock=clock)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "alice", "password": "wonderland", "domain": {"name": "acme"}}}}, "scope": {"project": {"id": other}}}}
    async with cloud(emu, token=None) as c:
        login = await c.call("POST", "/v3/auth/tokens", json=body)
        listed = await c.call("GET", f"/v1/{other}/checkpoint_items",
                              headers={"X-Auth-Token": login.headers["X-Subject-Token"]})
    assert login.status == 201
    assert (listed.status, listed.body["error_code"]) == (400, "BackupService.4008")
