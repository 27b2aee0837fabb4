"""The client's mapping of every row of the answers table, driven by the emulator's switches and faults."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from tests.csbs.conftest import PROJECT, TOKEN, cloud, scenario
from worker.cloud.auth import TokenAuth
from worker.emulator import Emulator, FaultRule
from worker.engine.answer import Answer, AnswerKind
from worker.services.csbs.client import CsbsClient

CHECKPOINT = "cp-1"
ITEM = "item-1"


async def get(client: CsbsClient) -> Answer:
    return await client.get_item(ITEM)


async def delete(client: CsbsClient) -> Answer:
    return await client.delete_item(CHECKPOINT, ITEM)


async def delete_twice(client: CsbsClient) -> Answer:
    first = await client.delete_item(CHECKPOINT, ITEM)
    assert first.kind is AnswerKind.OK
    return await client.delete_item(CHECKPOINT, ITEM)


async def bad_sort(client: CsbsClient) -> Answer:
    return await client.list_page(sort="nonsense:sideways")


@dataclass
class Row:
    """One row of the table: how the cloud is set up, what is called, and the answer expected."""

    call: Callable[[CsbsClient], Awaitable[Answer]]
    kind: AnswerKind
    status: int | None
    error_code: str | None = None
    scenario: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    msg_starts: str | None = None


ROWS = {
    "404 gone": Row(lambda c: c.get_item("no-such-item"), AnswerKind.GONE, 404, "CSBS.3001"),
    "404 record gone": Row(lambda c: c.delete_record("no-such-record"), AnswerKind.GONE, 404, "CSBS.3001"),
    "400 CSBS.2003 busy": Row(delete_twice, AnswerKind.BUSY, 400, "CSBS.2003"),
    "409 busy": Row(delete_twice, AnswerKind.BUSY, 409, "CSBS.2003", {"busy_mode": "409"}),
    "429 throttled": Row(get, AnswerKind.THROTTLED, 429, "APIG.0308", {"faults": (FaultRule("get_item", "429"),)}),
    "429 with Retry-After": Row(
        get,
        AnswerKind.THROTTLED,
        429,
        "APIG.0308",
        {"faults": (FaultRule("get_item", "429-retry-after", retry_after_s=7.0),)},
    ),
    "500 transient": Row(get, AnswerKind.TRANSIENT, 500, "CSBS.9999", {"faults": (FaultRule("get_item", "500"),)}),
    "500 after the work": Row(
        delete, AnswerKind.TRANSIENT, 500, "CSBS.9999", {"faults": (FaultRule("delete", "applied-500"),)}
    ),
    "503 transient": Row(get, AnswerKind.TRANSIENT, 503, "APIG.0201", {"faults": (FaultRule("get_item", "503"),)}),
    "dropped connection": Row(
        get,
        AnswerKind.TRANSIENT,
        None,
        scenario={"faults": (FaultRule("get_item", "drop"),)},
        msg_starts="ServerDisconnectedError",
    ),
    "timeout": Row(
        get,
        AnswerKind.TRANSIENT,
        None,
        scenario={"faults": (FaultRule("get_item", "slow", delay_s=0.2),)},
        client={"timeout": aiohttp.ClientTimeout(total=0.05)},
        msg_starts="TimeoutError",
    ),
    "400 CSBS.8007 permanent": Row(delete, AnswerKind.PERMANENT, 400, "CSBS.8007", {"image_items": frozenset({ITEM})}),
    "400 other permanent": Row(bad_sort, AnswerKind.PERMANENT, 400, "CSBS.9000"),
    "403 fatal": Row(get, AnswerKind.FATAL, 403, "APIG.0302", {"forbidden_tokens": frozenset({TOKEN})}),
    "400 BackupService.4008 fatal": Row(
        get, AnswerKind.FATAL, 400, "BackupService.4008", {"disabled_projects": frozenset({PROJECT})}
    ),
    "400 CSBS.9001 fatal": Row(delete, AnswerKind.FATAL, 400, "CSBS.9001", client={"provider_id": "not-the-provider"}),
    "401 fatal": Row(get, AnswerKind.FATAL, 401, "APIG.0301", client={"auth": TokenAuth("unknown-token")}),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
async def test_answer_mapping(row: Row):
    """The cloud's answer reaches the caller as the kind, status and code of the table, after one request."""
    emulator = Emulator(scenario(delete_duration_s=(30.0, 30.0), **row.scenario), seed=1)
    emulator.add_item(checkpoint_id=CHECKPOINT, item_id=ITEM)
    async with cloud(emulator, **row.client) as (emu, client):
        answer = await row.call(client)
    assert (answer.kind, answer.status, answer.error_code) == (row.kind, row.status, row.error_code)
    if row.msg_starts is not None:
        assert answer.error_msg is not None and answer.error_msg.startswith(row.msg_starts)
        assert answer.request_id is None
    else:
        assert answer.error_msg and answer.request_id
    # one call is one request on the wire, as the client counts it and as the cloud saw it
    assert client.calls == emu.stats.requests_by_route


async def test_retry_after_seconds_reach_the_answer():
    """A 429's Retry-After is read into retry_after_s; without the header it stays None."""
    faults = (FaultRule("get_item", "429-retry-after", retry_after_s=7.0, times=1), FaultRule("get_item", "429"))
    emulator = Emulator(scenario(faults=faults), seed=1)
    async with cloud(emulator) as (_, client):
        with_header, without = await client.get_item(ITEM), await client.get_item(ITEM)
    assert (with_header.retry_after_s, without.retry_after_s) == (7.0, None)
    assert with_header.retryable and without.retryable


async def test_connection_refused_is_transient():
    """A cloud that does not listen gives a transient answer, not an exception."""
    with socket.socket() as probe:  # a port that was free a moment ago, and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with CsbsClient(endpoint=f"http://127.0.0.1:{port}", project_id=PROJECT, auth=TokenAuth(TOKEN)) as client:
        answer = await client.get_item(ITEM)
    assert (answer.kind, answer.status) == (AnswerKind.TRANSIENT, None)
    assert answer.error_msg is not None and answer.error_msg.startswith("ClientConnectorError")
