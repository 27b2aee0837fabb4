"""Injected faults, the same on both faces: which requests a rule hits, and what each kind answers."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.emulator.helpers import FakeClock
from tests.emulator.sides import Side


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("503", 503), ("401", 401), ("403", 403)])
async def test_a_fault_answers_its_status_and_the_faces_code_once(side: Side, clock: FakeClock, kind: str,
                                                                   status: int) -> None:
    """Each kind answers its status and the face's code (times=1) with a request id and no Retry-After; the
    route then works, and the fault is counted."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], kind, times=1),))
    async with side.cloud(emu) as c:
        first, second = await c.list_backups(), await c.list_backups()
    assert (first.status, first.body["error_code"]) == (status, side.codes[kind])
    assert "X-Request-Id" in first.headers and "Retry-After" not in first.headers
    assert second.status == 200
    assert emu.stats.faults_by_kind == {kind: 1}


@pytest.mark.parametrize("kind", ["500", "503"])
async def test_a_fault_before_the_handler_leaves_the_delete_undone(side: Side, clock: FakeClock, kind: str) -> None:
    """A 500 or 503 decided before the handler answers without queueing the deletion."""
    emu = side.emulator(clock, faults=(side.rule("delete", kind),))
    [backup] = side.backups(emu, 1)
    async with side.cloud(emu) as c:
        answer = await c.delete_backup(backup)
        shown = await c.status_of(backup.id)
    assert (answer.status, answer.body["error_code"]) == (int(kind), side.codes[kind])
    assert shown == "available"
    assert emu.stats.tasks_started == 0


async def test_429_retry_after_sends_the_header(side: Side, clock: FakeClock) -> None:
    """Kind 429-retry-after adds Retry-After with the configured seconds, whole or not; a rule on one route
    leaves the others alone."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["get"], "429-retry-after", retry_after_s=0.2),
                                       side.rule(side.routes["list"], "429-retry-after", retry_after_s=2)))
    [backup] = side.backups(emu, 1)
    async with side.cloud(emu) as c:
        got, listed = await c.get_backup(backup.id), await c.list_backups()
        deleted = await c.delete_backup(backup)
    assert (got.status, got.headers["Retry-After"]) == (429, "0.2")
    assert (listed.status, listed.headers["Retry-After"]) == (429, "2")
    assert deleted.status < 300


async def test_drop_closes_the_connection_without_an_answer(side: Side, clock: FakeClock) -> None:
    """Kind drop closes the connection unanswered (a sign-in too); it is counted as a request and a fault,
    never as an answer, and later requests are served."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], "drop", times=1),
                                       side.rule("auth", "drop", times=1)))
    async with side.cloud(emu) as c:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await c.list_backups()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await c.call("POST", "/v3/auth/tokens", json={})
        answer = await c.list_backups()
    assert answer.status == 200
    assert emu.stats.requests_by_route == {side.routes["list"]: 2, "auth": 1}
    assert emu.stats.responses_by_status == {200: 1}
    assert emu.stats.faults_by_kind == {"drop": 2}


async def test_slow_answers_normally_after_the_delay(side: Side, clock: FakeClock) -> None:
    """Kind slow answers the real result, no sooner than delay_s."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], "slow", delay_s=0.1),))
    async with side.cloud(emu) as c:
        began = time.monotonic()
        answer = await c.list_backups()
        elapsed = time.monotonic() - began
    assert answer.status == 200
    assert elapsed >= 0.1
    assert emu.stats.faults_by_kind == {"slow": 1}


async def test_applied_500_applies_the_delete_then_answers_500(side: Side, clock: FakeClock) -> None:
    """Kind applied-500 queues the deletion but answers 500; a repeated DELETE then finds it being deleted."""
    emu = side.emulator(clock, faults=(side.rule("delete", "applied-500", times=1),), delete_duration_s=(10, 10))
    [backup] = side.backups(emu, 1)
    async with side.cloud(emu) as c:
        first = await c.delete_backup(backup)
        shown = await c.status_of(backup.id)
        second = await c.delete_backup(backup)
    assert (first.status, first.body["error_code"]) == (500, side.codes["500"])
    assert shown == "deleting"
    assert second.status == 400
    assert emu.stats.tasks_started == 1


async def test_applied_500_is_decided_after_auth(side: Side, clock: FakeClock) -> None:
    """An unauthenticated request is refused with 401 and does not use up an applied-500 rule."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], "applied-500", times=1),))
    async with side.cloud(emu) as c:
        refused = await c.list_backups(headers={"X-Auth-Token": "bad"})
        served_then_500 = await c.list_backups()
        normal = await c.list_backups()
    assert [refused.status, served_then_500.status, normal.status] == [401, 500, 200]


async def test_after_and_times_pick_which_requests_are_hit(side: Side, clock: FakeClock) -> None:
    """after skips the first matching requests and times caps how many are hit."""
    emu = side.emulator(clock, faults=(side.rule(side.routes["list"], "500", after=1, times=2),))
    async with side.cloud(emu) as c:
        statuses = [(await c.list_backups()).status for _ in range(5)]
    assert statuses == [200, 500, 500, 200, 200]


async def test_rate_is_a_seeded_coin_toss(side: Side, clock: FakeClock) -> None:
    """rate hits about that share of requests, the same ones for the same seed."""
    async def pattern(seed: int) -> list[int]:
        emu = side.emulator(clock, seed=seed, faults=(side.rule(side.routes["list"], "503", rate=0.5),))
        async with side.cloud(emu) as c:
            return [(await c.list_backups()).status for _ in range(40)]

    first, again, other = await pattern(7), await pattern(7), await pattern(8)
    assert first == again
    assert first != other
    assert 8 <= first.count(503) <= 32


async def test_faults_come_before_auth_and_star_matches_every_route(side: Side, clock: FakeClock) -> None:
    """A fault hits even a request without credentials, and route * covers sign-in too."""
    emu = side.emulator(clock, faults=(side.rule("*", "503", times=2),))
    async with side.cloud(emu, token=None) as c:
        unauthenticated = await c.list_backups()
        sign_in = await c.call("POST", "/v3/auth/tokens", json={})
        afterwards = await c.list_backups()
    assert [unauthenticated.status, sign_in.status, afterwards.status] == [503, 503, 401]
    assert emu.stats.requests_by_route == {side.routes["list"]: 2, "auth": 1}
    assert emu.stats.responses_by_status == {503: 2, 401: 1}


async def test_first_matching_rule_wins_and_all_rules_count(side: Side, clock: FakeClock) -> None:
    """When two rules match, the first that fires decides; the other still counts the request."""
    route = side.routes["list"]
    emu = side.emulator(clock, faults=(side.rule(route, "429", times=1), side.rule(route, "500", times=2)))
    async with side.cloud(emu) as c:
        statuses = [(await c.list_backups()).status for _ in range(3)]
    assert statuses == [429, 500, 200]
