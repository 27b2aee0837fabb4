"""The three ways to sign in, end to end against the emulator's IAM and signature checks."""

from __future__ import annotations

import asyncio

import aiohttp
from structlog.testing import capture_logs

from tests.csbs.conftest import PROJECT, FakeClock, cloud, make_client, scenario, served, wall_anchor
from worker.cloud.auth import AkSkAuth, PasswordAuth, TokenAuth
from worker.emulator import AccessKey, Emulator, FaultRule, IamUser
from worker.engine.answer import AnswerKind

ALICE = IamUser(name="alice", password="alice-password-9f8e7d", domain="acme")
AK = "HPUAEMULATORAK000001"
SK = "emulator-secret-key-0000000000000000000"
SECURITY_TOKEN = "temporary-security-token-abcdef"


def password_auth(base_url: str, clock=None, password: str = ALICE.password, **options) -> PasswordAuth:
    """Alice's password sign-in against the emulator's IAM."""
    if clock is not None:
        options["clock"] = clock
    return PasswordAuth(base_url, ALICE.name, password, ALICE.domain, PROJECT, **options)


class Clocks:
    """The emulator's fake monotonic clock and a wall clock for the authenticator that moves with it."""

    def __init__(self) -> None:
        self.emulator = FakeClock()
        self.wall0 = wall_anchor()

    def wall(self) -> float:
        return self.wall0 + self.emulator.now

    def make_emulator(self, **fields) -> Emulator:
        fields.setdefault("users", (ALICE,))
        return Emulator(scenario(**fields), seed=1, clock=self.emulator, wall_clock=lambda: self.wall0)


async def test_token_sign_in():
    """A ready token is sent as X-Auth-Token and accepted; no sign-in request is made."""
    emulator = Emulator(scenario(), seed=1)
    emulator.add_item(item_id="i-1")
    async with cloud(emulator, TokenAuth("static-token-5e3b1f0c9a7d")) as (emu, client):
        answer = await client.get_item("i-1")
    assert answer.kind is AnswerKind.OK
    assert client.calls == {"get_item": 1} == emu.stats.requests_by_route


async def test_password_login_is_cached():
    """One IAM login serves every later call while the token is fresh."""
    emulator = Emulator(scenario(users=(ALICE,)), seed=1)
    emulator.add_item(item_id="i-1")
    async with served(emulator) as (emu, url):
        with capture_logs() as logs:
            async with make_client(url, password_auth(url)) as client:
                answers = [await client.get_item("i-1"), await client.count_items(), await client.list_page()]
    assert all(answer.kind is AnswerKind.OK for answer in answers)
    assert client.calls == {"auth": 1, "get_item": 1, "count": 1, "list": 1} == emu.stats.requests_by_route
    assert [log["reason"] for log in logs if log["event"] == "auth_token_renewed"] == ["initial"]


async def test_concurrent_callers_share_one_login():
    """Calls that start together wait for one login instead of each signing in."""
    emulator = Emulator(scenario(users=(ALICE,)), seed=1)
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        answers = await asyncio.gather(*(client.count_items() for _ in range(8)))
    assert all(answer.kind is AnswerKind.OK for answer in answers)
    assert emu.stats.requests_by_route["auth"] == 1


async def test_token_is_renewed_before_it_expires():
    """renew_margin_s before expires_at a new login happens, so the cloud never sees an expired token."""
    clocks = Clocks()
    emulator = clocks.make_emulator(token_ttl_s=3600.0)
    async with (
        served(emulator) as (emu, url),
        make_client(url, password_auth(url, clocks.wall, renew_margin_s=300.0)) as client,
    ):
        await client.count_items()
        clocks.emulator.advance(3200.0)  # 400 s left: not yet due
        await client.count_items()
        logins_before_due = emu.stats.requests_by_route["auth"]
        clocks.emulator.advance(200.0)  # 200 s left: inside the margin
        answer = await client.count_items()
    assert answer.kind is AnswerKind.OK
    assert (logins_before_due, emu.stats.requests_by_route["auth"]) == (1, 2)
    assert emu.stats.responses_by_status[401] == 0


async def test_short_lived_token_is_renewed_at_half_life():
    """A token living less than twice the margin is renewed half-way through its life."""
    clocks = Clocks()
    emulator = clocks.make_emulator(token_ttl_s=100.0)
    async with (
        served(emulator) as (emu, url),
        make_client(url, password_auth(url, clocks.wall, renew_margin_s=300.0)) as client,
    ):
        await client.count_items()
        clocks.emulator.advance(45.0)
        await client.count_items()
        logins_before_half_life = emu.stats.requests_by_route["auth"]
        clocks.emulator.advance(10.0)
        await client.count_items()
    assert (logins_before_half_life, emu.stats.requests_by_route["auth"]) == (1, 2)
    assert emu.stats.responses_by_status[401] == 0


async def test_rejected_token_is_renewed_once():
    """A 401 on a token the client thought fresh triggers one login and one retry of the call."""
    clocks = Clocks()
    emulator = clocks.make_emulator(token_ttl_s=600.0)
    async with served(emulator) as (emu, url):
        # The authenticator's clock stands still, so only the cloud knows the token has expired.
        auth = password_auth(url, lambda: clocks.wall0)
        with capture_logs() as logs:
            async with make_client(url, auth) as client:
                await client.count_items()
                clocks.emulator.advance(700.0)
                answer = await client.count_items()
    assert answer.kind is AnswerKind.OK and answer.data == 0
    assert client.calls == {"auth": 2, "count": 3} == emu.stats.requests_by_route
    assert emu.stats.responses_by_status[401] == 1
    assert [log["reason"] for log in logs if log["event"] == "auth_token_renewed"] == ["initial", "rejected"]


async def test_renewal_during_an_iam_outage_is_transient():
    """When IAM is unavailable for the login after a 401, the call's answer is transient (retried later, the
    run goes on), and the refused token is not sent again."""
    clocks = Clocks()
    emulator = clocks.make_emulator(token_ttl_s=600.0, faults=(FaultRule("auth", "503", after=1),))
    async with served(emulator) as (emu, url):
        auth = password_auth(url, lambda: clocks.wall0)
        with capture_logs() as logs:
            async with make_client(url, auth) as client:
                await client.count_items()
                clocks.emulator.advance(700.0)
                answer = await client.count_items()
                after = await client.count_items()
    assert (answer.kind, answer.status) == (AnswerKind.TRANSIENT, 503)
    # the refused token is dropped: the next call tries to sign in, and does not send it again
    assert (after.kind, after.status) == (AnswerKind.TRANSIENT, 503)
    assert client.calls == {"auth": 3, "count": 2} == emu.stats.requests_by_route
    failed = [log for log in logs if log["event"] == "auth_login_failed"]
    assert [(log["http_status"], log["kind"]) for log in failed] == [(503, "transient")] * 2


async def test_refused_renewal_is_fatal():
    """When IAM refuses the login after a 401 (the password was changed), the 401 stands: a fatal answer."""
    clocks = Clocks()
    emulator = clocks.make_emulator(token_ttl_s=600.0, faults=(FaultRule("auth", "401", after=1),))
    async with served(emulator) as (emu, url), make_client(url, password_auth(url, lambda: clocks.wall0)) as client:
        await client.count_items()
        clocks.emulator.advance(700.0)
        answer = await client.count_items()
    assert (answer.kind, answer.status) == (AnswerKind.FATAL, 401)
    assert emu.stats.requests_by_route == {"auth": 2, "count": 2}


async def test_wrong_password_is_fatal_and_sends_no_call():
    """IAM refusing the password is a fatal answer, and the CSBS call is never sent."""
    emulator = Emulator(scenario(users=(ALICE,)), seed=1)
    async with served(emulator) as (emu, url), make_client(url, password_auth(url, password="wrong")) as client:
        answer = await client.get_item("i-1")
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.FATAL, 401, "APIG.0301")
    assert client.calls == {"auth": 1} == emu.stats.requests_by_route


async def test_unavailable_iam_is_transient_and_the_next_call_logs_in():
    """An IAM 503 or timeout is a transient answer; a later call signs in afresh and succeeds."""
    faults = (FaultRule("auth", "503", times=1),)
    emulator = Emulator(scenario(users=(ALICE,), faults=faults), seed=1)
    async with served(emulator) as (_, url), make_client(url, password_auth(url)) as client:
        first, second = await client.count_items(), await client.count_items()
    assert (first.kind, first.status) == (AnswerKind.TRANSIENT, 503)
    assert second.kind is AnswerKind.OK
    assert client.calls == {"auth": 2, "count": 1}


async def test_iam_timeout_is_transient():
    """An IAM login that does not answer within the client timeout is a transient answer."""
    faults = (FaultRule("auth", "slow", delay_s=0.2),)
    emulator = Emulator(scenario(users=(ALICE,), faults=faults), seed=1)
    timeout = aiohttp.ClientTimeout(total=0.05)
    async with served(emulator) as (_, url), make_client(url, password_auth(url), timeout=timeout) as client:
        answer = await client.count_items()
    assert (answer.kind, answer.status) == (AnswerKind.TRANSIENT, None)
    assert answer.error_msg is not None and answer.error_msg.startswith("TimeoutError")


async def test_iam_endpoint_with_v3_suffix_works():
    """An IAM endpoint given with a trailing /v3 reaches the same login URL."""
    emulator = Emulator(scenario(users=(ALICE,)), seed=1)
    async with served(emulator) as (_, url), make_client(url, password_auth(url + "/v3/")) as client:
        answer = await client.count_items()
    assert answer.kind is AnswerKind.OK


async def test_aksk_signed_calls_are_accepted():
    """AK/SK-signed DELETE and GETs (with query strings) all pass the signature check."""
    emulator = Emulator(scenario(access_keys=(AccessKey(AK, SK),), delete_duration_s=(30.0, 30.0)), seed=1)
    [(checkpoint_id, [item_id, *_])] = emulator.seed_plan([("cp-1", ["i-1", "i-2"])])
    async with cloud(emulator, AkSkAuth(AK, SK, PROJECT)) as (emu, client):
        answers = [
            await client.get_item(item_id),
            await client.list_page(limit=1, status="available", sort="created_at:asc"),
            await client.count_items(checkpoint_id=checkpoint_id),
            await client.delete_item(checkpoint_id, item_id),
        ]
    assert [answer.kind for answer in answers] == [AnswerKind.OK] * 4
    assert emu.stats.responses_by_status[401] == 0


async def test_aksk_with_security_token_is_accepted():
    """Temporary keys sign with X-Security-Token and are accepted."""
    key = AccessKey(AK, SK, security_token=SECURITY_TOKEN)
    emulator = Emulator(scenario(access_keys=(key,)), seed=1)
    async with cloud(emulator, AkSkAuth(AK, SK, PROJECT, security_token=SECURITY_TOKEN)) as (_, client):
        answer = await client.count_items()
    assert answer.kind is AnswerKind.OK


async def test_aksk_refused_is_fatal_without_a_retry():
    """A wrong secret key or a missing security token is fatal at once: keys cannot be renewed."""
    key = AccessKey(AK, SK, security_token=SECURITY_TOKEN)
    emulator = Emulator(scenario(access_keys=(key,)), seed=1)
    async with served(emulator) as (emu, url):
        async with make_client(url, AkSkAuth(AK, "wrong-secret", PROJECT, SECURITY_TOKEN)) as wrong_key:
            bad_signature = await wrong_key.count_items()
        async with make_client(url, AkSkAuth(AK, SK, PROJECT)) as no_token:
            missing_token = await no_token.count_items()
    for answer in (bad_signature, missing_token):
        assert (answer.kind, answer.status) == (AnswerKind.FATAL, 401)
    assert emu.stats.requests_by_route == {"count": 2}
