"""Signing in, the same on both faces: static tokens, password sign-in with expiring tokens, AK/SK signatures
and the AK lock, and the 403 of a forbidden user or another project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tests.emulator.helpers import PROJECT, FakeClock
from tests.emulator.sides import Side, SideCloud
from worker.emulator import AccessKey, IamUser
from worker.emulator.core.signer import sign

KEY = AccessKey(ak="AKTEST0000000000001", sk="SecretKeyForTests", user="aksk-user")
TEMP_KEY = AccessKey(ak="AKTEMP0000000000001", sk="TempSecret", user="temp-user", security_token="sts-token")
ALICE = IamUser(name="alice", password="wonderland", domain="acme")


def login_body(name: str = "alice", password: str = "wonderland", domain: str = "acme",
               project: str = PROJECT) -> dict[str, object]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"id": project}}}}


def signed(c: SideCloud, method: str, path: str, key: AccessKey = KEY, when: datetime | None = None,
           extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request signed like the SDK: Host, X-Project-Id, X-Sdk-Date, Authorization."""
    headers = {"Host": urlsplit(c.base).netloc, "X-Project-Id": PROJECT, **(extra or {})}
    return sign(key.ak, key.sk, method, c.base + path, headers, b"", when)


async def test_a_static_token_is_accepted(side: Side, clock: FakeClock) -> None:
    """A configured static token is accepted as X-Auth-Token."""
    emu = side.emulator(clock)
    side.backups(emu, 2)
    async with side.cloud(emu) as c:
        assert (await c.list_backups()).status == 200


async def test_missing_or_unknown_credentials_get_401_apig_0301(side: Side, clock: FakeClock) -> None:
    """No credentials, or an unknown token, answer 401 with IAM's APIG.0301 and a request id; the token sent
    is not echoed."""
    emu = side.emulator(clock)
    async with side.cloud(emu, token=None) as c:
        bare = await c.list_backups()
        wrong = await c.list_backups(headers={"X-Auth-Token": "nope-secret"})
    for answer in (bare, wrong):
        assert answer.status == 401
        assert answer.body["error_code"] == "APIG.0301" and answer.body["error_msg"]
        assert answer.headers["X-Request-Id"]
    assert "nope-secret" not in str(wrong.body)


async def test_password_sign_in_issues_a_token_that_works(side: Side, clock: FakeClock) -> None:
    """POST /v3/auth/tokens answers 201 with X-Subject-Token and expires_at; the token then works."""
    emu = side.emulator(clock, users=(ALICE,), token_ttl_s=3600)
    async with side.cloud(emu, token=None) as c:
        answer = await c.call("POST", "/v3/auth/tokens", json=login_body())
        token = answer.headers["X-Subject-Token"]
        listed = await c.list_backups(headers={"X-Auth-Token": token})
    assert answer.status == 201
    expires = answer.body["token"]["expires_at"]
    assert expires.endswith("Z")
    lifetime = datetime.fromisoformat(expires.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    assert listed.status == 200


async def test_sign_in_refuses_bad_password_foreign_project_and_bad_body(side: Side, clock: FakeClock) -> None:
    """Wrong password or domain, or a project the emulator does not hold, answer 401; a malformed body 400."""
    emu = side.emulator(clock, users=(ALICE,))
    async with side.cloud(emu, token=None) as c:
        bad_password = await c.call("POST", "/v3/auth/tokens", json=login_body(password="x"))
        bad_domain = await c.call("POST", "/v3/auth/tokens", json=login_body(domain="other"))
        foreign = await c.call("POST", "/v3/auth/tokens", json=login_body(project="f" * 32))
        malformed = await c.call("POST", "/v3/auth/tokens", json={"auth": {}})
    assert [bad_password.status, bad_domain.status, foreign.status] == [401, 401, 401]
    assert bad_password.body["error_code"] == "APIG.0301"
    assert "X-Subject-Token" not in bad_password.headers
    assert malformed.status == 400


async def test_issued_token_expires_after_its_ttl(side: Side, clock: FakeClock) -> None:
    """A signed-in token works until token_ttl_s has passed on the emulator's clock, then answers 401."""
    emu = side.emulator(clock, users=(ALICE,), token_ttl_s=60)
    async with side.cloud(emu, token=None) as c:
        token = (await c.call("POST", "/v3/auth/tokens", json=login_body())).headers["X-Subject-Token"]
        clock.advance(59.9)
        before = await c.list_backups(headers={"X-Auth-Token": token})
        clock.advance(0.2)
        after = await c.list_backups(headers={"X-Auth-Token": token})
    assert before.status == 200
    assert after.status == 401 and "expired" in after.body["error_msg"]


async def test_aksk_signed_requests_are_accepted_and_join_the_keys_queue(side: Side, clock: FakeClock) -> None:
    """GET and DELETE signed with SDK-HMAC-SHA256 are served, and the deletion joins the AK's user queue;
    a wrong secret gets 401."""
    emu = side.emulator(clock, access_keys=(KEY,), delete_duration_s=(10, 10))
    [backup] = side.backups(emu, 1)
    listing, deleting = side.list_path + "?limit=5", side.delete_path(backup)
    wrong = AccessKey(ak=KEY.ak, sk="WrongSecretKey0000000000000000000000000000")
    async with side.cloud(emu, token=None) as c:
        listed = await c.call("GET", listing, headers=signed(c, "GET", listing))
        refused = await c.call("GET", listing, headers=signed(c, "GET", listing, key=wrong))
        deleted = await c.call("DELETE", deleting, headers=signed(c, "DELETE", deleting))
    assert (listed.status, refused.status) == (200, 401)
    assert deleted.status < 300
    assert emu.stats.outstanding("aksk-user") == 1


async def test_aksk_refuses_tampered_signature_and_stale_date(side: Side, clock: FakeClock) -> None:
    """A request changed after signing, or whose X-Sdk-Date is more than 15 minutes off, answers 401."""
    emu = side.emulator(clock, access_keys=(KEY,))
    path = side.list_path
    async with side.cloud(emu, token=None) as c:
        tampered = await c.call("GET", path + "?limit=2", headers=signed(c, "GET", path + "?limit=1"))
        old = datetime.now(UTC) - timedelta(minutes=16)
        stale = await c.call("GET", path, headers=signed(c, "GET", path, when=old))
        fresh = signed(c, "GET", path)
        clock.advance(16 * 60)  # the same signature, presented 16 minutes later
        late = await c.call("GET", path, headers=fresh)
    assert [tampered.status, stale.status, late.status] == [401, 401, 401]
    assert "signature" in tampered.body["error_msg"]
    assert "X-Sdk-Date" in stale.body["error_msg"]


async def test_temporary_credentials_need_their_security_token(side: Side, clock: FakeClock) -> None:
    """An AK with a security token is accepted only with that X-Security-Token (signed)."""
    emu = side.emulator(clock, access_keys=(TEMP_KEY,))
    path = side.list_path
    async with side.cloud(emu, token=None) as c:
        without = await c.call("GET", path, headers=signed(c, "GET", path, key=TEMP_KEY))
        wrong = await c.call("GET", path, headers=signed(c, "GET", path, key=TEMP_KEY,
                                                         extra={"X-Security-Token": "other"}))
        right = await c.call("GET", path, headers=signed(c, "GET", path, key=TEMP_KEY,
                                                         extra={"X-Security-Token": "sts-token"}))
    assert [without.status, wrong.status, right.status] == [401, 401, 200]


async def test_more_than_five_failures_lock_the_ak_for_five_minutes(side: Side, clock: FakeClock) -> None:
    """After six failed signatures in a row even a good one is refused, until the lock time has passed."""
    bad = AccessKey(ak=KEY.ak, sk="wrong-secret")
    emu = side.emulator(clock, access_keys=(KEY,))
    path = side.list_path
    async with side.cloud(emu, token=None) as c:
        for _ in range(5):
            assert (await c.call("GET", path, headers=signed(c, "GET", path, key=bad))).status == 401
        fifth_then_good = await c.call("GET", path, headers=signed(c, "GET", path))
        for _ in range(6):
            await c.call("GET", path, headers=signed(c, "GET", path, key=bad))
        locked = await c.call("GET", path, headers=signed(c, "GET", path))
        clock.advance(299)
        still_locked = await c.call("GET", path, headers=signed(c, "GET", path))
        clock.advance(2)
        unlocked = await c.call("GET", path, headers=signed(c, "GET", path))
    assert fifth_then_good.status == 200  # five failures are not "more than five"
    assert locked.status == 401 and "locked" in locked.body["error_msg"]
    assert still_locked.status == 401
    assert unlocked.status == 200


async def test_a_forbidden_user_gets_403(side: Side, clock: FakeClock) -> None:
    """A user listed as forbidden authenticates but gets the face's 403."""
    emu = side.emulator(clock, tokens={"good": "user-1", "nope": "user-2"}, forbidden_users=frozenset({"user-2"}))
    async with side.cloud(emu, token="good") as c:
        allowed = await c.list_backups()
        refused = await c.list_backups(headers={"X-Auth-Token": "nope"})
    assert allowed.status == 200
    assert (refused.status, refused.body["error_code"]) == (403, side.codes["403"])


async def test_project_in_path_must_match_the_credentials_scope(side: Side, clock: FakeClock) -> None:
    """A token scoped to one project, or an AK signed for one, gets 403 on another project's path."""
    emu = side.emulator(clock, access_keys=(KEY,))
    path = side.list_path.replace(PROJECT, "f" * 32)
    async with side.cloud(emu) as c:
        by_token = await c.call("GET", path)
        by_key = await c.call("GET", path, headers={"X-Auth-Token": "", **signed(c, "GET", path)})
    assert (by_token.status, by_key.status) == (403, 403)
