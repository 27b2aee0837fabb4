"""How the client reads answers: gone only on the service's word, every error shape, request ids, the clock.

The emulator plays each misbehaviour (gateway 404s, error shapes, request ids in the body); a few-line
aiohttp server on loopback plays the shapes it has no switch for. The client under test is the real one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.csbs.conftest import cloud, make_client, scenario
from worker.cloud.wire import MAX_ERROR_TEXT, answer_from_response, parse_http_date
from worker.emulator import Emulator, FaultRule
from worker.engine.answer import RETRYABLE_KINDS, Answer, AnswerKind

WALL_START = 1_700_000_000.0


class StepClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


# -- a 404 is gone only when the service says so ----------------------------------------------------------


@pytest.mark.parametrize(("flavour", "code"), [("apigw", "APIGW.0101"), ("apig", "APIG.0101"), ("html", None)])
async def test_wrong_endpoint_is_no_service_never_gone(flavour, code):
    """An endpoint answering the gateway's 404 (JSON or HTML): NO_SERVICE, retryable, for every call."""
    emulator = Emulator(scenario(gateway_404=flavour), seed=1)
    async with cloud(emulator) as (_, client):
        answers = [await client.get_item("x"), await client.count_items(), await client.delete_item("c", "x"),
                   await client.list_page()]
    assert [(a.kind, a.status, a.error_code) for a in answers] == [(AnswerKind.NO_SERVICE, 404, code)] * 4
    assert all(a.retryable for a in answers)
    assert AnswerKind.NO_SERVICE in RETRYABLE_KINDS


async def test_gateway_404_mid_run_is_not_gone():
    """After a good count, a gateway 404 for get_item is NO_SERVICE; the service's own 404 stays GONE."""
    emulator = Emulator(scenario(faults=(FaultRule("get_item", "404-apigw", times=1),)), seed=1)
    item = emulator.add_item()
    async with cloud(emulator) as (_, client):
        count = await client.count_items()
        gateway = await client.get_item(item["id"])
        served = await client.get_item(item["id"])
        missing = await client.get_item("no-such-item")
    assert count.kind is AnswerKind.OK
    assert (gateway.kind, gateway.error_code) == (AnswerKind.NO_SERVICE, "APIGW.0101")
    assert served.kind is AnswerKind.OK
    assert (missing.kind, missing.error_code) == (AnswerKind.GONE, "CSBS.3001")


# -- error shapes, request ids, long messages ---------------------------------------------------------------


@pytest.mark.parametrize("shape", ["error_code", "error", "errorCode", "code"])
async def test_every_error_shape_keeps_the_service_code(shape):
    """In each shape with a service code, a missing backup is GONE and a repeated DELETE is BUSY."""
    emulator = Emulator(scenario(error_shape=shape, delete_duration_s=(30, 30)), seed=1)
    item = emulator.add_item()
    async with cloud(emulator) as (_, client):
        missing = await client.get_item("no-such-item")
        await client.delete_item(item["checkpoint_id"], item["id"])
        busy = await client.delete_item(item["checkpoint_id"], item["id"])
    assert (missing.kind, missing.error_code) == (AnswerKind.GONE, "CSBS.3001")
    assert missing.error_msg == "Checkpoint_item (no-such-item) is not found."
    assert (busy.kind, busy.error_code) == (AnswerKind.BUSY, "CSBS.2003")


async def test_openstack_shape_numeric_code_is_text_and_not_proof_of_gone():
    """{"itemNotFound": {"code": 404}}: the code becomes "404", and a 404 without a CSBS code is NO_SERVICE."""
    emulator = Emulator(scenario(error_shape="openstack"), seed=1)
    async with cloud(emulator) as (_, client):
        missing = await client.get_item("no-such-item")
    assert (missing.kind, missing.status, missing.error_code) == (AnswerKind.NO_SERVICE, 404, "404")
    assert missing.error_msg == "Checkpoint_item (no-such-item) is not found."


async def test_request_id_read_from_the_body_without_the_header():
    """request_id_in_body: the answer's request id is the body's request_id."""
    emulator = Emulator(scenario(request_id_in_body=True), seed=1)
    async with cloud(emulator) as (_, client):
        missing = await client.get_item("no-such-item")
    assert missing.kind is AnswerKind.GONE
    assert missing.request_id is not None and len(missing.request_id) == 32


async def shaped(request: web.Request) -> web.Response:
    """Error bodies chosen by the item id in the path."""
    item = request.match_info["item_id"]
    bodies = {
        "bad-request": (400, {"badRequest": {"code": 400, "message": "Invalid input"}, "request_id": "req-body"}),
        "csbs-other": (404, {"error_code": "CSBS.3002", "error_msg": "record not found"}),
        "no-code": (404, {"error_msg": "nothing here"}),
        "empty-object": (404, {}),
        "long": (400, {"error_code": "CSBS.1000", "error_msg": "x" * 5000}),
        "numeric": (500, {"code": 500, "message": "oops"}),
    }
    if item == "plain-404":
        return web.Response(status=404, text="Not Found")
    if item == "no-date":
        return web.json_response({"checkpoint_item": {}}, headers={"Date": "not a date"})
    status, body = bodies[item]
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers={"X-Request-Id": "req-header"} if item == "numeric" else None)


@contextlib.asynccontextmanager
async def fake_service() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v1/{project_id}/checkpoint_items/{item_id}", shaped)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


@pytest.mark.parametrize(
    ("item", "kind", "code", "msg", "request_id"),
    [
        ("bad-request", AnswerKind.PERMANENT, "400", "Invalid input", "req-body"),
        ("csbs-other", AnswerKind.GONE, "CSBS.3002", "record not found", None),
        ("no-code", AnswerKind.NO_SERVICE, None, "nothing here", None),
        ("empty-object", AnswerKind.NO_SERVICE, None, "{}", None),
        ("plain-404", AnswerKind.NO_SERVICE, None, "Not Found", None),
        ("numeric", AnswerKind.TRANSIENT, "500", "oops", "req-header"),
    ],
)
async def test_error_bodies_the_sdk_accepts(item, kind, code, msg, request_id):
    """OpenStack's {"<kind>": {...}} beside a body request_id, any CSBS.* 404 as gone, 404s without a code
    as no service, a numeric code as text; the header's request id wins over none in the body."""
    async with fake_service() as url, make_client(url) as client:
        answer = await client.get_item(item)
    assert (answer.kind, answer.error_code, answer.error_msg, answer.request_id) == (kind, code, msg, request_id)


async def test_long_error_text_is_cut():
    """An echoed message of 5000 characters is cut to MAX_ERROR_TEXT."""
    async with fake_service() as url, make_client(url) as client:
        answer = await client.get_item("long")
    assert answer.error_msg is not None and len(answer.error_msg) == MAX_ERROR_TEXT
    assert answer.error_msg.startswith("xxx")


async def test_classify_is_a_parameter_for_other_tables():
    """answer_from_response reads with the table it is given (a CBR client brings its own)."""
    async with (
        fake_service() as url,
        aiohttp.ClientSession() as session,
        session.get(f"{url}/v1/p/checkpoint_items/csbs-other") as response,
    ):
        answer = await answer_from_response(response, classify=lambda status, code: AnswerKind.BUSY)
    assert (answer.kind, answer.error_code) == (AnswerKind.BUSY, "CSBS.3002")


# -- the server's clock ------------------------------------------------------------------------------------


async def test_server_time_is_the_date_header_of_every_answer():
    """server_time is the emulator's wall clock from Date, on OK and error answers alike."""
    clock = StepClock()
    emulator = Emulator(scenario(), seed=1, clock=clock, wall_clock=lambda: WALL_START)
    item = emulator.add_item()
    async with cloud(emulator) as (_, client):
        first = await client.get_item(item["id"])
        clock.now += 90
        deleted = await client.delete_item(item["checkpoint_id"], item["id"])
        missing = await client.get_item("no-such-item")
    assert first.server_time == WALL_START
    assert deleted.server_time == missing.server_time == WALL_START + 90


async def test_unreadable_date_gives_no_server_time():
    """A Date header that is not an HTTP date leaves server_time None (never a guess)."""
    async with fake_service() as url, make_client(url) as client:
        answer = await client.get_item("no-date")
    assert answer.kind is AnswerKind.OK and answer.server_time is None
    assert parse_http_date(None) is None
    assert parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT") == 1445412480.0


def test_an_answer_without_http_has_no_server_time():
    """A transient answer made from a network error carries no server clock."""
    assert Answer(AnswerKind.TRANSIENT).server_time is None
