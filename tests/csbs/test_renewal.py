"""Renewing a rejected sign-in (docs/design.md, Retries), end to end against the emulator's IAM on loopback.

A token the service rejects is renewed and the call sent again; a renewed token rejected too is renewed again,
at most ``MAX_RENEWALS`` times in a row without a call the service accepted; a login IAM refuses is fatal at
once.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.csbs.conftest import FAST_RETRY, make_client, scenario, served
from tests.csbs.test_auth import ALICE, password_auth
from worker.cloud.transport import MAX_RENEWALS
from worker.emulator import Emulator, FaultRule
from worker.engine.answer import AnswerKind
from worker.engine.retry import call_with_retries

TOKEN_TTL_S = 1.0


def emulator_with(**fields) -> Emulator:
    """Alice's IAM, plus ``fields``."""
    return Emulator(scenario(users=(ALICE,), **fields), seed=3)


async def test_short_lived_tokens_under_a_slow_rate_limit_keep_the_calls_going():
    """Tokens living 1 s, forty calls paced at 10 a second (about four seconds of queue) with 500 and 429 noise,
    and five requests held up on their way in until their token has expired: every call ends OK (retried as
    the engine retries), each rejected token is renewed once for all the calls it failed, and the sign-ins
    stay about one per half-life of a token."""
    faults = (
        FaultRule("count", "slow", after=5, times=3, delay_s=1.1),  # past the token's life: rejected, renewed
        FaultRule("count", "slow", after=25, times=2, delay_s=1.1),
        FaultRule("count", "500", rate=0.1),
        FaultRule("count", "429", rate=0.1),
    )
    emulator = emulator_with(token_ttl_s=TOKEN_TTL_S, faults=faults)
    async with served(emulator) as (emu, url), make_client(url, password_auth(url), max_rps=10) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(
            *(call_with_retries(client.count_items, FAST_RETRY, deadline=started + 60.0) for _ in range(40))
        )
        elapsed = loop.time() - started
    assert [answer.kind for answer, _ in results] == [AnswerKind.OK] * 40
    assert elapsed >= 3.0  # the rate limit did hold the calls back
    rejected = emu.stats.responses_by_status[401]
    assert rejected >= 5  # every held-up token had expired (a stalled machine may add a few)
    # at most one login per half-life of a token, and one renewal per rejection, except that the three calls
    # held up together share one
    assert emu.stats.requests_by_route["auth"] <= elapsed / (TOKEN_TTL_S / 2) + 1 + (rejected - 2)


async def test_a_renewed_token_rejected_again_is_renewed_again():
    """Two rejections in a row: two renewals, and the call's third send is accepted."""
    emulator = emulator_with(faults=(FaultRule("count", "401", times=2),))
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        answer = await client.count_items()
    assert answer.kind is AnswerKind.OK
    assert emu.stats.requests_by_route == {"auth": 1 + 2, "count": 3}


async def test_a_service_rejecting_every_token_is_fatal_after_the_bounded_renewals():
    """Every token rejected, fresh ones too: the call renews MAX_RENEWALS times, then its answer is the fatal
    401; a later call gets it at once, with no further sign-in."""
    emulator = emulator_with(faults=(FaultRule("count", "401"),))
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        first = await client.count_items()
        logins_after_first = emu.stats.requests_by_route["auth"]
        second = await client.count_items()
    for answer in (first, second):
        assert (answer.kind, answer.status) == (AnswerKind.FATAL, 401)
    assert MAX_RENEWALS == 3
    assert logins_after_first == 1 + MAX_RENEWALS  # the first sign-in, then the renewals
    assert emu.stats.requests_by_route == {"auth": 1 + MAX_RENEWALS, "count": 1 + MAX_RENEWALS + 1}


async def test_concurrent_calls_share_the_bounded_renewals():
    """Eight calls rejected together share each renewal: the sign-ins stay 1 + MAX_RENEWALS in all."""
    emulator = emulator_with(faults=(FaultRule("count", "401"),))
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        answers = await asyncio.gather(*(client.count_items() for _ in range(8)))
    assert {(answer.kind, answer.status) for answer in answers} == {(AnswerKind.FATAL, 401)}
    assert emu.stats.requests_by_route["auth"] == 1 + MAX_RENEWALS


async def test_an_accepted_call_resets_the_count_of_renewals():
    """MAX_RENEWALS rejections in a row, an accepted call, then MAX_RENEWALS more: both calls end OK."""
    faults = (FaultRule("count", "401", times=MAX_RENEWALS), FaultRule("count", "401", after=4, times=MAX_RENEWALS))
    emulator = emulator_with(faults=faults)
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        first, second = await client.count_items(), await client.count_items()
    assert (first.kind, second.kind) == (AnswerKind.OK, AnswerKind.OK)
    assert emu.stats.requests_by_route == {"auth": 1 + 2 * MAX_RENEWALS, "count": 2 * (MAX_RENEWALS + 1)}


@pytest.mark.parametrize("refusal", ["401", "403"])
async def test_a_refused_login_is_fatal_at_once(refusal):
    """IAM refusing the password sign-in (401 or 403) is fatal with one sign-in attempt and no call sent."""
    emulator = emulator_with(faults=(FaultRule("auth", refusal),))
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        answer = await client.count_items()
    assert (answer.kind, answer.status) == (AnswerKind.FATAL, int(refusal))
    assert emu.stats.requests_by_route == {"auth": 1}


@pytest.mark.parametrize("refusal", ["401", "403"])
async def test_a_refused_renewal_is_fatal_at_once(refusal):
    """A rejected token whose renewal IAM refuses: fatal after that one renewal attempt, however many renewals
    the bound would still allow."""
    faults = (FaultRule("count", "401", times=1), FaultRule("auth", refusal, after=1))
    emulator = emulator_with(faults=faults)
    async with served(emulator) as (emu, url), make_client(url, password_auth(url)) as client:
        answer = await client.count_items()
    assert (answer.kind, answer.status) == (AnswerKind.FATAL, 401)
    assert emu.stats.requests_by_route == {"auth": 2, "count": 1}


async def test_a_wrong_password_is_fatal_with_one_sign_in():
    """The emulator's IAM refusing a wrong password: one sign-in attempt, no call sent."""
    emulator = emulator_with()
    async with served(emulator) as (emu, url), make_client(url, password_auth(url, password="wrong")) as client:
        answer = await client.count_items()
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.FATAL, 401, "APIG.0301")
    assert emu.stats.requests_by_route == {"auth": 1}
