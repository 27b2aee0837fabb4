"""Injected faults per route: throttling, 5xx, dropped connections, slow answers, applied-then-500."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.emulator.conftest import PROJECT, cloud, scenario
from worker.emulator import Emulator, FaultRule


def emulator(clock, *faults: FaultRule, seed: int = 0, **fields) -> Emulator:
    return Emulator(scenario(faults=faults, **fields), seed=seed, clock=clock)


async def test_429_is_apig_0308_without_retry_after(clock):
    """Kind 429 answers the gateway's throttling body and no Retry-After header."""
    emu = emulator(clock, FaultRule("list", "429"))
    async with cloud(emu) as c:
        answer = await c.list()
    assert answer.status == 429
    assert answer.body["error_code"] == "APIG.0308"
    assert answer.body["error_msg"].startswith("over ratelimit, limit:") and "time:1 minute" in answer.body["error_msg"]
    assert "Retry-After" not in answer.headers


async def test_429_retry_after_sends_the_header(clock):
    """Kind 429-retry-after adds Retry-After with the configured seconds."""
    emu = emulator(clock, FaultRule("get_item", "429-retry-after", retry_after_s=2))
    async with cloud(emu) as c:
        answer = await c.get_item("any")
    assert answer.status == 429 and answer.headers["Retry-After"] == "2"


@pytest.mark.parametrize(("kind", "status", "code"), [("500", 500, "CSBS.9999"), ("503", 503, "APIG.0201")])
async def test_server_errors(clock, kind, status, code):
    """Kinds 500 and 503 answer that status with a JSON error body, and the DELETE is not applied."""
    emu = emulator(clock, FaultRule("delete", kind))
    [(cid, _)] = emu.seed_random(1)
    async with cloud(emu) as c:
        answer = await c.delete_record(cid)
    assert (answer.status, answer.body["error_code"]) == (status, code)
    assert emu.stats.tasks_started == 0


async def test_drop_closes_the_connection_without_an_answer(clock):
    """Kind drop closes the connection; the client sees a disconnect and later requests are served.

    aiohttp itself resends an idempotent request once after a disconnect, so two drops are needed for
    a GET to fail; a POST (sign-in) is not resent.
    """
    emu = emulator(clock, FaultRule("count", "drop", times=2), FaultRule("auth", "drop", times=1))
    async with cloud(emu) as c:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await c.count()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await c.call("POST", "/v3/auth/tokens", json={})
        answer = await c.count()
    assert answer.status == 200
    assert emu.stats.requests_by_route == {"count": 3, "auth": 1}
    assert emu.stats.responses_by_status == {200: 1}
    assert emu.stats.faults_by_kind == {"drop": 3}


async def test_slow_answers_normally_after_the_delay(clock):
    """Kind slow answers the real result, no sooner than delay_s."""
    emu = emulator(clock, FaultRule("list", "slow", delay_s=0.2))
    async with cloud(emu) as c:
        began = time.monotonic()
        answer = await c.list()
        elapsed = time.monotonic() - began
    assert answer.status == 200
    assert elapsed >= 0.2


async def test_applied_500_applies_the_delete_then_answers_500(clock):
    """Kind applied-500 queues the deletion but answers 500; a repeated DELETE then finds it busy."""
    emu = emulator(clock, FaultRule("delete", "applied-500", times=1), delete_duration_s=(10, 10))
    [(cid, [item, *_])] = emu.seed_plan([(None, ["3f9d8c2e-1b4a-4c2d-9e7f-0a1b2c3d4e5f"])])
    async with cloud(emu) as c:
        first = await c.delete_item(cid, item)
        shown = await c.status_of(item)
        second = await c.delete_item(cid, item)
    assert (first.status, first.body["error_code"]) == (500, "CSBS.9999")
    assert shown == "deleting"
    assert second.status == 400


async def test_applied_500_is_decided_after_auth(clock):
    """An unauthenticated request is refused with 401 and does not use up an applied-500 rule."""
    emu = emulator(clock, FaultRule("list", "applied-500", times=1))
    async with cloud(emu) as c:
        refused = await c.call("GET", f"/v1/{PROJECT}/checkpoint_items", headers={"X-Auth-Token": "bad"})
        served_then_500 = await c.list()
        normal = await c.list()
    assert [refused.status, served_then_500.status, normal.status] == [401, 500, 200]


async def test_after_and_times_pick_which_requests_are_hit(clock):
    """after skips the first matching requests and times caps how many are hit."""
    emu = emulator(clock, FaultRule("get_item", "500", after=1, times=2))
    async with cloud(emu) as c:
        statuses = [(await c.get_item("x")).status for _ in range(5)]
    assert statuses == [404, 500, 500, 404, 404]


async def test_rate_is_a_seeded_coin_toss(clock):
    """rate hits about that share of requests, the same ones for the same seed."""
    async def pattern(seed: int) -> list[int]:
        emu = emulator(clock, FaultRule("count", "503", rate=0.5), seed=seed)
        async with cloud(emu) as c:
            return [(await c.count()).status for _ in range(40)]

    first, again, other = await pattern(7), await pattern(7), await pattern(8)
    assert first == again
    assert first != other
    assert 8 <= first.count(503) <= 32


async def test_faults_come_before_auth_and_star_matches_every_route(clock):
    """A fault hits even a request without credentials, and route * covers sign-in too."""
    emu = emulator(clock, FaultRule("*", "503", times=2))
    async with cloud(emu, token=None) as c:
        unauthenticated = await c.list()
        sign_in = await c.call("POST", "/v3/auth/tokens", json={})
        afterwards = await c.list()
    assert [unauthenticated.status, sign_in.status, afterwards.status] == [503, 503, 401]
    assert emu.stats.requests_by_route == {"list": 2, "auth": 1}
    assert emu.stats.responses_by_status == {503: 2, 401: 1}


async def test_first_matching_rule_wins_and_all_rules_count(clock):
    """When two rules match, the first that fires decides; the other still counts the request."""
    emu = emulator(clock, FaultRule("list", "429", times=1), FaultRule("list", "500", times=2))
    async with cloud(emu) as c:
        statuses = [(await c.list()).status for _ in range(3)]
    assert statuses == [429, 500, 200]
