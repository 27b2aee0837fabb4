"""Signing in: static tokens, password sign-in with expiring tokens, AK/SK signatures and the AK lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tests.emulator.conftest import PROJECT, TOKEN, Cloud, FakeClock, cloud, scenario
from worker.emulator import AccessKey, Emulator, IamUser
from worker.emulator.signer import sign

KEY = AccessKey(ak="AKTEST0000000000001", sk="SecretKeyForTests", user="aksk-user")
TEMP_KEY = AccessKey(ak="AKTEMP0000000000001", sk="TempSecret", user="temp-user", security_token="sts-token")
ALICE = IamUser(name="alice", password="wonderland", domain="acme")
LIST_PATH = f"/v1/{PROJECT}/checkpoint_items"


def login_body(name: str = "alice", password: str = "wonderland", domain: str = "acme",
               project: str = PROJECT) -> dict[str, object]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"id": project}}}}


def signed(c: Cloud, method: str, path: str, key: AccessKey = KEY, when: datetime | None = None,
           project: str = PROJECT, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request signed like the SDK: Host, X-Project-Id, X-Sdk-Date, Authorization."""
    headers = {"Host": urlsplit(c.base).netloc, "X-Project-Id": project, **(extra or {})}
    return sign(key.ak, key.sk, method, c.base + path, headers, b"", when)


async def test_static_token_lists_backups(clock):
    """A configured static token is accepted as X-Auth-Token."""
    emu = Emulator(scenario(), clock=clock)
    emu.seed_random(2)
    async with cloud(emu) as c:
        answer = await c.list()
    assert answer.status == 200
    assert len(answer.body["checkpoint_items"]) >= 2


async def test_missing_or_unknown_credentials_get_401_apig_0301(clock):
    """No credentials, or an unknown token, answer 401 with the gateway's APIG.0301 body and a request id."""
    emu = Emulator(scenario(), clock=clock)
    async with cloud(emu, token=None) as c:
        bare = await c.list()
        wrong = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": "nope"})
    for answer in (bare, wrong):
        assert answer.status == 401
        assert answer.body["error_code"] == "APIG.0301" and answer.body["error_msg"]
        assert answer.headers["X-Request-Id"]


async def test_password_sign_in_issues_a_token_that_works(clock):
    """POST /v3/auth/tokens answers 201 with X-Subject-Token and expires_at; the token then works."""
    emu = Emulator(scenario(users=(ALICE,), token_ttl_s=3600), clock=clock)
    async with cloud(emu, token=None) as c:
        answer = await c.call("POST", "/v3/auth/tokens", json=login_body())
        token = answer.headers["X-Subject-Token"]
        listed = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": token})
    assert answer.status == 201
    expires = answer.body["token"]["expires_at"]
    assert expires.endswith("Z")
    lifetime = datetime.fromisoformat(expires.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    assert listed.status == 200


async def test_sign_in_refuses_bad_password_foreign_project_and_bad_body(clock):
    """Wrong password or a project the emulator does not hold answer 401; a malformed body 400."""
    emu = Emulator(scenario(users=(ALICE,)), clock=clock)
    async with cloud(emu, token=None) as c:
        bad_password = await c.call("POST", "/v3/auth/tokens", json=login_body(password="x"))
        bad_domain = await c.call("POST", "/v3/auth/tokens", json=login_body(domain="other"))
        foreign = await c.call("POST", "/v3/auth/tokens", json=login_body(project="f" * 32))
        malformed = await c.call("POST", "/v3/auth/tokens", json={"auth": {}})
    assert [bad_password.status, bad_domain.status, foreign.status] == [401, 401, 401]
    assert bad_password.body["error_code"] == "APIG.0301"
    assert "X-Subject-Token" not in bad_password.headers
    assert malformed.status == 400


async def test_issued_token_expires_after_its_ttl(clock: FakeClock):
    """A signed-in token works until token_ttl_s has passed on the emulator's clock, then answers 401."""
    emu = Emulator(scenario(users=(ALICE,), token_ttl_s=60), clock=clock)
    async with cloud(emu, token=None) as c:
        token = (await c.call("POST", "/v3/auth/tokens", json=login_body())).headers["X-Subject-Token"]
        clock.advance(59.9)
        before = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": token})
        clock.advance(0.2)
        after = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": token})
    assert before.status == 200
    assert after.status == 401 and "expired" in after.body["error_msg"]


async def test_aksk_signed_requests_are_accepted(clock):
    """GET and DELETE signed with SDK-HMAC-SHA256 are served, and the deletion joins the AK's user queue."""
    emu = Emulator(scenario(access_keys=(KEY,), delete_duration_s=(10, 10)), clock=clock)
    [(record, _)] = emu.seed_random(1)
    delete_path = f"/v1/{PROJECT}/providers/fc4d5750-22e7-4798-8a46-f48f62c4c1da/checkpoints/{record}"
    async with cloud(emu, token=None) as c:
        listed = await c.call("GET", LIST_PATH + "?limit=5&status=available",
                              headers=signed(c, "GET", LIST_PATH + "?limit=5&status=available"))
        deleted = await c.call("DELETE", delete_path, headers=signed(c, "DELETE", delete_path))
    assert listed.status == 200 and len(listed.body["checkpoint_items"]) >= 1
    assert deleted.status == 200
    assert emu.stats.outstanding("aksk-user") == 1


async def test_aksk_refuses_tampered_signature_and_stale_date(clock: FakeClock):
    """A request changed after signing, or whose X-Sdk-Date is more than 15 minutes off, answers 401."""
    emu = Emulator(scenario(access_keys=(KEY,)), clock=clock)
    async with cloud(emu, token=None) as c:
        tampered = await c.call("GET", LIST_PATH + "?limit=2", headers=signed(c, "GET", LIST_PATH + "?limit=1"))
        old = datetime.now(UTC) - timedelta(minutes=16)
        stale = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, when=old))
        fresh = signed(c, "GET", LIST_PATH)
        clock.advance(16 * 60)  # the same signature, presented 16 minutes later
        late = await c.call("GET", LIST_PATH, headers=fresh)
    assert [tampered.status, stale.status, late.status] == [401, 401, 401]
    assert "signature" in tampered.body["error_msg"]
    assert "X-Sdk-Date" in stale.body["error_msg"]


async def test_temporary_credentials_need_their_security_token(clock):
    """An AK with a security token is accepted only with that X-Security-Token (signed)."""
    emu = Emulator(scenario(access_keys=(TEMP_KEY,)), clock=clock)
    async with cloud(emu, token=None) as c:
        without = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, key=TEMP_KEY))
        wrong = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, key=TEMP_KEY,
                                                               extra={"X-Security-Token": "other"}))
        right = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, key=TEMP_KEY,
                                                               extra={"X-Security-Token": "sts-token"}))
    assert [without.status, wrong.status, right.status] == [401, 401, 200]


async def test_more_than_five_failures_lock_the_ak_for_five_minutes(clock: FakeClock):
    """After six failed signatures in a row even a good one is refused, until the lock time has passed."""
    bad = AccessKey(ak=KEY.ak, sk="wrong-secret")
    emu = Emulator(scenario(access_keys=(KEY,)), clock=clock)
    async with cloud(emu, token=None) as c:
        for _ in range(5):
            assert (await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, key=bad))).status == 401
        fifth_then_good = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH))
        for _ in range(6):
            await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH, key=bad))
        locked = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH))
        clock.advance(299)
        still_locked = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH))
        clock.advance(2)
        unlocked = await c.call("GET", LIST_PATH, headers=signed(c, "GET", LIST_PATH))
    assert fifth_then_good.status == 200  # five failures are not "more than five"
    assert locked.status == 401 and "locked" in locked.body["error_msg"]
    assert still_locked.status == 401
    assert unlocked.status == 200


async def test_forbidden_token_and_user_get_403(clock):
    """A token or user listed as forbidden authenticates but gets 403 on CSBS calls."""
    emu = Emulator(scenario(tokens={TOKEN: "user-1", "blocked": "user-2", "other": "user-3"},
                            forbidden_tokens=frozenset({"blocked"}), forbidden_users=frozenset({"user-3"})),
                   clock=clock)
    async with cloud(emu) as c:
        allowed = await c.list()
        by_token = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": "blocked"})
        by_user = await c.call("GET", LIST_PATH, headers={"X-Auth-Token": "other"})
    assert allowed.status == 200
    assert by_token.status == 403 and by_token.body["error_code"]
    assert by_user.status == 403


async def test_project_in_path_must_match_the_credentials_scope(clock):
    """A token scoped to one project, or an AK signed for one, gets 403 on another project's path."""
    other = "f" * 32
    emu = Emulator(scenario(access_keys=(KEY,)), clock=clock)
    async with cloud(emu) as c:
        by_token = await c.call("GET", f"/v1/{other}/checkpoint_items")
        path = f"/v1/{other}/checkpoint_items"
        by_key = await c.call("GET", path, headers={"X-Auth-Token": "", **signed(c, "GET", path)})
    assert by_token.status == 403
    assert by_key.status == 403


async def test_disabled_project_refuses_every_call_with_4008(clock):
    """In a project that may not use CSBS every call answers 400 BackupService.4008."""
    emu = Emulator(scenario(disabled_projects=frozenset({PROJECT})), clock=clock)
    [(record, [item])] = emu.seed_plan([(None, ["3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"])])
    async with cloud(emu) as c:
        answers = [await c.list(), await c.count(), await c.get_item(item), await c.delete_record(record)]
    assert {a.status for a in answers} == {400}
    assert {a.body["error_code"] for a in answers} == {"BackupService.4008"}
