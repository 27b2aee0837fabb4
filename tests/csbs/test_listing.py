"""list_items when the backups change under it: a marker that vanished starts the listing over, boundedly.

A listing never answers GONE: a 404 says nothing about any record there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.csbs.conftest import cloud, make_client, scenario
from worker.emulator import Emulator, FaultRule
from worker.engine.answer import AnswerKind
from worker.services.csbs.client import MAX_LISTING_RESTARTS

CID = "00000000-0000-4000-8000-000000000001"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def marker_arrival(emulator: Emulator) -> asyncio.Event:
    """An event set when the first paged (``marker``) request reaches the emulator, before it is served."""
    arrived = asyncio.Event()

    @web.middleware
    async def note(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "marker" in request.query:
            arrived.set()
        return await handler(request)

    emulator.app.middlewares.insert(0, note)  # outermost: it sees the request before the held fault
    return arrived


async def test_vanished_marker_restarts_from_the_first_page():
    """The backup a marker names is deleted between pages (404): the listing starts over and is complete."""
    # The 2nd page request is held 2 s before it is served; meanwhile its marker's backup is deleted.
    emulator = Emulator(scenario(vanished_marker="404", delete_duration_s=(0, 0),
                                 faults=(FaultRule("list", "slow", after=1, times=1, delay_s=2.0),)), seed=1)
    emulator.seed_plan([(CID, ["a-1", "a-2", "a-3"])])
    arrived = marker_arrival(emulator)
    async with cloud(emulator, page_size=1) as (emu, client), make_client(client.project_url.origin().human_repr()) \
            as other_run:
        listing = asyncio.create_task(client.list_items(sort="id:asc"))
        async with asyncio.timeout(10):
            await arrived.wait()
        deleted = await other_run.delete_item(CID, "a-1")
        answer = await listing
    assert deleted.kind is AnswerKind.OK
    assert answer.kind is AnswerKind.OK
    assert [item["id"] for item in answer.data] == ["a-2", "a-3"]
    # first pass: a-1, then 404 for marker a-1; second pass: a-2, a-3, then the empty page
    assert emu.stats.requests_by_route["list"] == 5
    assert emu.stats.responses_by_status[404] == 1


@contextlib.asynccontextmanager
async def always_vanishing(first_page_status: int = 200) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A service whose first page holds one backup and whose every marker has vanished (404 CSBS.3001)."""
    seen: Counter[str] = Counter()

    async def listing(request: web.Request) -> web.Response:
        seen["marker" if "marker" in request.query else "first"] += 1
        if "marker" in request.query or first_page_status == 404:
            return web.json_response({"error_code": "CSBS.3001", "error_msg": "not found"}, status=404)
        return web.json_response({"checkpoint_items": [{"id": f"b-{seen['first']}"}]})

    app = web.Application()
    app.router.add_get("/v1/{project_id}/checkpoint_items", listing)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/"), seen


async def test_restarts_are_bounded_and_never_read_as_gone():
    """A marker that keeps vanishing: MAX_LISTING_RESTARTS restarts, then a retryable answer that is not GONE."""
    async with always_vanishing() as (url, seen), make_client(url, page_size=1) as client:
        answer = await client.list_items()
    assert answer.kind is AnswerKind.TRANSIENT and answer.retryable
    assert answer.status == 404 and answer.error_msg is not None and "restarted" in answer.error_msg
    assert seen == {"first": MAX_LISTING_RESTARTS + 1, "marker": MAX_LISTING_RESTARTS + 1}


async def test_first_page_404_of_a_listing_is_not_gone():
    """Even a CSBS.* 404 on the first page says no record is gone: the listing answers TRANSIENT."""
    async with always_vanishing(first_page_status=404) as (url, seen), make_client(url) as client:
        answer = await client.list_items()
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.TRANSIENT, 404, "CSBS.3001")
    assert seen == {"first": 1}
