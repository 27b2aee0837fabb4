"""Renewing a rejected sign-in, for CBR: the same transport as CSBS, and BackupService.9998 rejects a token too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import web

from tests.cbr.conftest import FAST_RETRY, PROJECT, app_on_loopback, scenario
from worker.cloud.auth import PasswordAuth
from worker.cloud.transport import MAX_RENEWALS
from worker.emulator import IamUser
from worker.emulator.cbr import CbrEmulator, CbrFaultRule, serve
from worker.engine.answer import AnswerKind
from worker.engine.retry import call_with_retries
from worker.services.cbr.client import CbrClient

OPS = IamUser(name="ops", password="ops-password-0c1d2e", domain="acme")
TOKEN_TTL_S = 1.0


def password_auth(url: str) -> PasswordAuth:
    return PasswordAuth(url, OPS.name, OPS.password, OPS.domain, PROJECT)


@contextlib.asynccontextmanager
async def signed_in(emulator: CbrEmulator, **options) -> AsyncIterator[CbrClient]:
    """The emulator on loopback and an open client on it, signed in with OPS's password."""
    async with serve(emulator) as url:
        client = CbrClient(endpoint=url, project_id=PROJECT, auth=password_auth(url), retry=FAST_RETRY, **options)
        async with client:
            yield client


async def test_short_lived_tokens_under_a_slow_rate_limit_keep_the_calls_going() -> None:
    """Tokens living 1 s, thirty calls paced at 10 a second, with 500 and 429 noise: every call ends OK, and the
    sign-ins stay about one per half-life of a token."""
    faults = (CbrFaultRule("list_vaults", "500", rate=0.1), CbrFaultRule("list_vaults", "429", rate=0.1))
    emu = CbrEmulator(scenario(users=(OPS,), token_ttl_s=TOKEN_TTL_S, faults=faults), seed=2)
    async with signed_in(emu, max_rps=10) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(
            *(call_with_retries(client.check_credentials, FAST_RETRY, deadline=started + 60.0) for _ in range(30))
        )
        elapsed = loop.time() - started
    assert [answer.kind for answer, _ in results] == [AnswerKind.OK] * 30
    assert elapsed >= 2.0
    # at most one login per half-life of a token (and a renewal for a token a stalled machine let expire)
    assert emu.stats.requests_by_route["auth"] <= elapsed / (TOKEN_TTL_S / 2) + 1 + emu.stats.responses_by_status[401]


async def test_a_renewed_token_rejected_again_is_renewed_again() -> None:
    """Two 401s in a row: two renewals, and the third send is accepted."""
    emu = CbrEmulator(scenario(users=(OPS,), faults=(CbrFaultRule("list_vaults", "401", times=2),)), seed=2)
    async with signed_in(emu) as client:
        answer = await client.check_credentials()
    assert answer.kind is AnswerKind.OK
    assert emu.stats.requests_by_route == {"auth": 1 + 2, "list_vaults": 3}


async def test_a_refused_login_is_fatal_at_once() -> None:
    """IAM refusing the password: one sign-in attempt, no CBR call."""
    emu = CbrEmulator(scenario(users=(OPS,), faults=(CbrFaultRule("auth", "401"),)), seed=2)
    async with signed_in(emu) as client:
        answer = await client.check_credentials()
    assert (answer.kind, answer.status) == (AnswerKind.FATAL, 401)
    assert emu.stats.requests_by_route == {"auth": 1}


async def test_authentication_failed_9998_is_renewed_then_fatal_after_the_bounded_renewals() -> None:
    """A CBR that answers every token 500 BackupService.9998 ("Authentication failed"): MAX_RENEWALS renewals,
    then the 9998 is the fatal answer; a later call gets it at once, with no further sign-in."""
    seen = {"logins": 0, "vaults": 0}

    async def login(request: web.Request) -> web.Response:
        seen["logins"] += 1
        expires_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return web.json_response({"token": {"expires_at": expires_at}}, status=201,
                                 headers={"X-Subject-Token": f"token-{seen['logins']}"})

    async def vaults(request: web.Request) -> web.Response:
        seen["vaults"] += 1
        return web.json_response({"error_code": "BackupService.9998", "error_msg": "Authentication failed"},
                                 status=500)

    app = web.Application()
    app.router.add_post("/v3/auth/tokens", login)
    app.router.add_get(f"/v3/{PROJECT}/vaults", vaults)
    async with app_on_loopback(app) as url, CbrClient(endpoint=url, project_id=PROJECT,
                                                      auth=password_auth(url)) as client:
        first = await client.check_credentials()
        logins_after_first = seen["logins"]
        second = await client.check_credentials()
    for answer in (first, second):
        assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.FATAL, 500, "BackupService.9998")
    assert logins_after_first == 1 + MAX_RENEWALS
    assert seen == {"logins": 1 + MAX_RENEWALS, "vaults": 1 + MAX_RENEWALS + 1}
    assert client.calls == {"auth": 1 + MAX_RENEWALS, "check_credentials": 1 + MAX_RENEWALS + 1}
