"""Each call of the client against the emulator: paths, shapes, paging, counting, request ids, rate."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.csbs.conftest import cloud, make_client, scenario
from worker.cloud.auth import TokenAuth
from worker.emulator import Emulator, FaultRule
from worker.engine.answer import AnswerKind
from worker.engine.retry import RetryPolicy
from worker.services.csbs.client import CsbsClient

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def seeded(**fields) -> Emulator:
    """An emulator whose deletions take long enough to be seen queued or running."""
    fields.setdefault("delete_duration_s", (30.0, 30.0))
    return Emulator(scenario(**fields), seed=1)


def status(emulator: Emulator, item_id: str) -> str:
    """The true status of a backup the emulator still holds."""
    item = emulator.item(item_id)
    assert item is not None
    return str(item["status"])


async def test_get_item_gives_the_item():
    """get_item answers OK with the checkpoint_item dict itself."""
    emulator = seeded()
    item = emulator.add_item()
    async with cloud(emulator) as (_, client):
        answer = await client.get_item(item["id"])
    assert answer.kind is AnswerKind.OK and answer.status == 200
    assert answer.data["id"] == item["id"] and answer.data["status"] == "available"
    assert client.calls == {"get_item": 1}


async def test_delete_record_queues_every_backup_of_it():
    """delete_record sends one DELETE for the record; every backup in it starts being deleted."""
    emulator = seeded()
    [(checkpoint_id, item_ids)] = emulator.seed_plan([(None, None)])
    async with cloud(emulator) as (emu, client):
        answer = await client.delete_record(checkpoint_id)
    assert answer.kind is AnswerKind.OK and answer.data == {}
    assert emu.stats.deletes_by_target == {checkpoint_id: 1}
    assert {status(emu, i) for i in item_ids} <= {"waiting_delete", "deleting"}
    assert client.calls == {"delete": 1}


async def test_delete_item_deletes_only_that_backup():
    """delete_item names one backup in ?checkpoint_items; its siblings stay available."""
    emulator = seeded()
    [(checkpoint_id, _)] = emulator.seed_plan([(None, ["a-1", "a-2", "a-3"])])
    async with cloud(emulator) as (emu, client):
        answer = await client.delete_item(checkpoint_id, "a-2")
    assert answer.kind is AnswerKind.OK
    assert emu.stats.deletes_by_target == {"a-2": 1}
    assert status(emu, "a-2") in {"waiting_delete", "deleting"}
    assert status(emu, "a-1") == status(emu, "a-3") == "available"


async def test_list_page_gives_a_list_and_honours_limit_and_marker():
    """list_page answers a list of item dicts, cut by limit and continued after the marker."""
    emulator = seeded()
    emulator.seed_plan([(None, [f"i-{n}" for n in range(5)])])
    async with cloud(emulator) as (_, client):
        first = await client.list_page(limit=2)
        rest = await client.list_page(limit=10, marker=first.data[-1]["id"])
    assert first.kind is AnswerKind.OK and len(first.data) == 2
    assert all(isinstance(item, dict) for item in first.data)
    assert len(rest.data) == 3
    assert {i["id"] for i in first.data + rest.data} == {f"i-{n}" for n in range(5)}


async def test_list_items_follows_every_page_with_filters():
    """list_items walks all pages (small page size) and keeps the filter on each of them."""
    emulator = seeded()
    [(wanted, wanted_ids), _] = emulator.seed_plan(
        [("cp-a", [f"a-{n}" for n in range(7)]), ("cp-b", [f"b-{n}" for n in range(3)])]
    )
    async with cloud(emulator, page_size=3) as (emu, client):
        answer = await client.list_items(checkpoint_id=wanted)
    assert answer.kind is AnswerKind.OK
    assert sorted(item["id"] for item in answer.data) == sorted(wanted_ids)
    # pages of 3, 3 and 1, then the empty page that ends the listing
    assert client.calls == {"list": 4} == emu.stats.requests_by_route


async def test_list_items_retries_a_throttled_page():
    """A page answered 429 or 503 is retried, and the listing still comes out whole."""
    faults = (FaultRule("list", "429", after=1, times=1), FaultRule("list", "503", after=2, times=1))
    emulator = seeded(faults=faults)
    emulator.seed_plan([("cp", [f"i-{n}" for n in range(5)])])
    async with cloud(emulator, page_size=2) as (_, client):
        answer = await client.list_items(status="available")
    assert answer.kind is AnswerKind.OK and len(answer.data) == 5
    assert client.calls["list"] == 4 + 2


async def test_list_items_returns_a_page_that_keeps_failing():
    """When a page stays transient past max_attempts, that answer is returned as is."""
    emulator = seeded(faults=(FaultRule("list", "500", after=1),))
    emulator.seed_plan([("cp", [f"i-{n}" for n in range(5)])])
    retry = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=3)
    async with cloud(emulator, page_size=2, retry=retry) as (_, client):
        answer = await client.list_items()
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.TRANSIENT, 500, "CSBS.9999")
    assert client.calls["list"] == 1 + 3


async def test_list_items_stops_retrying_at_the_deadline():
    """No page retry sleeps past the deadline: the throttled answer comes back in time."""
    emulator = seeded(faults=(FaultRule("list", "429-retry-after", retry_after_s=30.0),))
    async with cloud(emulator, retry=RetryPolicy(base_s=1.0, cap_s=60.0)) as (_, client):
        loop = asyncio.get_running_loop()
        answer = await client.list_items(deadline=loop.time() + 0.5)
    assert answer.kind is AnswerKind.THROTTLED and answer.retry_after_s == 30.0
    assert client.calls["list"] == 1


async def test_count_items_gives_an_int_with_filters():
    """count_items answers the number of matching backups, paging aside."""
    emulator = seeded()
    emulator.seed_plan([("cp-a", ["a-1", "a-2", "a-3"]), ("cp-b", ["b-1"])])
    emulator.add_item(checkpoint_id="cp-c", item_id="c-1", status="error")
    async with cloud(emulator) as (_, client):
        everything = await client.count_items()
        in_a = await client.count_items(checkpoint_id="cp-a")
        failed = await client.count_items(status="error")
    assert (everything.data, in_a.data, failed.data) == (5, 3, 1)
    assert everything.kind is AnswerKind.OK and client.calls == {"count": 3}


async def test_request_id_is_kept_on_every_answer():
    """Both OK and error answers carry the X-Request-Id the cloud stamped, one per request."""
    emulator = seeded()
    item = emulator.add_item()
    async with cloud(emulator) as (_, client):
        answers = [await client.get_item(item["id"]), await client.get_item("missing"), await client.count_items()]
    ids = [answer.request_id for answer in answers]
    assert all(REQUEST_ID.match(i or "") for i in ids) and len(set(ids)) == 3
    assert answers[1].kind is AnswerKind.GONE


async def test_max_rps_caps_the_rate_of_every_call():
    """One throttler serves every route: with max_rps 5, the sixth call waits for the first second to pass."""
    emulator = seeded()
    item = emulator.add_item()
    async with cloud(emulator, max_rps=5) as (emu, client):
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(
            *(client.get_item(item["id"]) for _ in range(2)),
            *(client.count_items() for _ in range(2)),
            *(client.list_page(limit=1) for _ in range(2)),
        )
        elapsed = loop.time() - started
    assert all(answer.kind is AnswerKind.OK for answer in answers)
    assert client.transport.throttler.rate_limit == 5 and client.transport.throttler.period == 1.0
    assert elapsed >= 0.95  # a lower bound only: the limiter guarantees it, however slow the machine
    assert sum(emu.stats.requests_by_route.values()) == 6


async def test_max_rps_below_one_paces_below_one_request_per_second():
    """max_rps 0.5 lets one request through every 2 s: the second call waits, it is not sent after 1 s."""
    emulator = seeded()
    item = emulator.add_item()
    async with cloud(emulator, max_rps=0.5) as (emu, client):
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(client.get_item(item["id"]), client.get_item(item["id"]))
        elapsed = loop.time() - started
    assert all(answer.kind is AnswerKind.OK for answer in answers)
    assert elapsed >= 1.95  # a lower bound only: the limiter guarantees it, however slow the machine
    assert emu.stats.requests_by_route == {"get_item": 2}


@pytest.mark.parametrize(
    ("max_rps", "rate_limit", "period_s"), [(10.0, 10, 1.0), (2.5, 2, 0.8), (0.2, 1, 5.0), (1.0, 1, 1.0)]
)
def test_max_rps_becomes_an_exact_pace(max_rps, rate_limit, period_s):
    """A fractional max_rps is never rounded up: 2.5 is two requests per 0.8 s, 0.2 is one per 5 s."""
    client = CsbsClient(endpoint="http://127.0.0.1:1", project_id="p", auth=TokenAuth("t"), max_rps=max_rps)
    assert client.transport.throttler.rate_limit == rate_limit
    assert client.transport.throttler.period == pytest.approx(period_s)


async def test_calls_outside_the_context_are_refused():
    """A client that was not opened with `async with` refuses to send."""
    client = make_client("http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_item("x")


async def test_session_is_closed_on_exit():
    """Leaving `async with` closes the run's one session."""
    async with cloud() as (_, client):
        session = client.transport.session
        assert session is not None and not session.closed
    assert session.closed
