"""Answer shapes the emulator does not produce: the other error body, HTTP-date Retry-After, odd bodies.

A few-line aiohttp server on loopback plays the gateway here; the client under test is the real one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from email.utils import formatdate

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.csbs.conftest import make_client
from worker.cloud.wire import parse_retry_after
from worker.engine.answer import AnswerKind


async def gateway(request: web.Request) -> web.Response:
    """Answers chosen by the item id in the path."""
    item = request.match_info["item_id"]
    if item == "nested-error":
        body = {"error": {"code": "APIGW.0308", "message": "over ratelimit"}}
        return web.json_response(body, status=429, headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    if item == "html-error":
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
    if item == "empty-error":
        return web.Response(status=418)
    if item == "malformed-ok":
        return web.json_response({"unexpected": 1}, headers={"X-Request-Id": "req-malformed"})
    return web.json_response({"checkpoint_items": "not a list"})


@contextlib.asynccontextmanager
async def fake_gateway() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v1/{project_id}/checkpoint_items/{item_id}", gateway)
    app.router.add_get("/v1/{project_id}/checkpoint_items", gateway)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def test_nested_error_body_and_http_date_retry_after():
    """{"error": {"code", "message"}} is read like the flat shape, and an HTTP-date Retry-After becomes seconds."""
    async with fake_gateway() as url, make_client(url) as client:
        answer = await client.get_item("nested-error")
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.THROTTLED, 429, "APIGW.0308")
    assert answer.error_msg == "over ratelimit"
    assert answer.retry_after_s is not None and 25.0 <= answer.retry_after_s <= 30.0


async def test_non_json_error_keeps_its_text():
    """A gateway's HTML error page is transient and its text becomes the message."""
    async with fake_gateway() as url, make_client(url) as client:
        answer = await client.get_item("html-error")
    assert (answer.kind, answer.status, answer.error_code) == (AnswerKind.TRANSIENT, 502, None)
    assert answer.error_msg == "<html>Bad Gateway</html>"


async def test_other_4xx_without_body_is_permanent():
    """A 4xx outside the table, with no body, is permanent and has no message."""
    async with fake_gateway() as url, make_client(url) as client:
        answer = await client.get_item("empty-error")
    assert (answer.kind, answer.status, answer.error_msg) == (AnswerKind.PERMANENT, 418, None)


async def test_malformed_ok_bodies_are_transient():
    """A 200 without the expected shape is not taken as data: it is transient, request id kept."""
    async with fake_gateway() as url, make_client(url) as client:
        item = await client.get_item("malformed-ok")
        page = await client.list_page()
    assert (item.kind, item.status, item.request_id, item.data) == (AnswerKind.TRANSIENT, 200, "req-malformed", None)
    assert item.error_msg is not None and item.error_msg.startswith("malformed answer")
    assert page.kind is AnswerKind.TRANSIENT


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("3", 3.0),
        ("0.25", 0.25),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("soon", None),
    ],
)
def test_parse_retry_after(header, expected):
    """Retry-After is read as delta-seconds or an HTTP date, never negative; nonsense is ignored."""
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(header, now=lambda: now) == expected
