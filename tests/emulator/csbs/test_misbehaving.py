"""The emulator misbehaving as real endpoints do: gateway 404s, error shapes, odd numbers and statuses.

Every test talks HTTP to a served emulator and states what a client of it receives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tests.emulator.csbs.conftest import PROJECT, TOKEN, USER, FakeClock, cloud, scenario
from worker.emulator import Emulator, FaultRule, OddStatus, Scenario, ScenarioError

CID = "00000000-0000-4000-8000-000000000001"
ITEM = "00000000-0000-4000-8000-0000000000a1"
WALL_START = 1_700_000_000.0  # 2023-11-14T22:13:20Z: the emulator's wall time when its clock reads 1000
GATEWAY_MSG = "The API does not exist or has not been published in the environment"


def emulator(clock: FakeClock, **fields) -> Emulator:
    """An emulator on ``clock`` whose wall time starts at WALL_START, holding one backup ITEM in CID."""
    emu = Emulator(scenario(**fields), clock=clock, wall_clock=lambda: WALL_START)
    emu.add_item(checkpoint_id=CID, item_id=ITEM)
    return emu


def csbs_time(text: str) -> float:
    """A CSBS time (no zone: UTC) as POSIX seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# -- a wrong endpoint: the gateway's 404 ------------------------------------------------------------------


@pytest.mark.parametrize(("flavour", "code"), [("apigw", "APIGW.0101"), ("apig", "APIG.0101")])
async def test_gateway_404_answers_every_route_and_deletes_nothing(clock, flavour, code):
    """gateway_404 apigw/apig: every call, DELETE and sign-in included, gets the gateway's JSON 404."""
    emu = emulator(clock, gateway_404=flavour)
    async with cloud(emu) as c:
        answers = [await c.get_item(ITEM), await c.list(), await c.count(), await c.delete_item(CID, ITEM),
                   await c.call("POST", "/v3/auth/tokens", json={}), await c.call("GET", "/v2/elsewhere")]
    assert [a.status for a in answers] == [404] * 6
    assert all(a.body == {"error_code": code, "error_msg": GATEWAY_MSG} for a in answers)
    assert emu.stats.tasks_started == 0 and emu.item(ITEM) is not None


async def test_gateway_404_html_is_a_page_not_json(clock):
    """gateway_404 html: a text/html 404 page, as a proxy in front of nothing answers."""
    emu = emulator(clock, gateway_404="html")
    async with cloud(emu) as c, c.session.get(f"{c.base}/v1/{PROJECT}/checkpoint_items/{ITEM}") as response:
        text = await response.text()
    assert response.status == 404 and response.content_type == "text/html"
    assert "<h1>404 Not Found</h1>" in text


async def test_gateway_404_fault_mid_run_after_a_good_start(clock):
    """Fault kinds 404-apigw / 404-html hit get_item after a good count: a gateway losing the API mid-run."""
    emu = emulator(clock, faults=(FaultRule("get_item", "404-apigw", times=1), FaultRule("get_item", "404-html")))
    async with cloud(emu) as c:
        count = await c.count()
        first = await c.get_item(ITEM)
        async with c.session.get(f"{c.base}/v1/{PROJECT}/checkpoint_items/{ITEM}", headers=c.headers) as second:
            page = await second.text()
    assert count.status == 200 and count.body == {"count": 1}
    assert (first.status, first.body["error_code"]) == (404, "APIGW.0101")
    assert second.status == 404 and second.content_type == "text/html" and "404 Not Found" in page
    assert emu.stats.faults_by_kind == {"404-apigw": 1, "404-html": 1}


async def test_unknown_paths_and_methods_are_the_gateways_404(clock):
    """A path or a method the API lacks answers 404 APIG.0101, never 405."""
    emu = emulator(clock)
    async with cloud(emu) as c:
        answers = [await c.call("GET", "/no/such/path"), await c.call("PUT", f"/v1/{PROJECT}/checkpoint_items")]
    assert [(a.status, a.body["error_code"]) for a in answers] == [(404, "APIG.0101")] * 2


def test_unknown_gateway_flavour_is_refused():
    """A gateway_404 value outside none|apigw|apig|html is a scenario error naming the key."""
    with pytest.raises(ScenarioError, match="gateway_404"):
        scenario(gateway_404="nginx")


# -- error bodies and request ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "gone_body"),
    [
        ("error_code", {"error_code": "CSBS.3001", "error_msg": f"Checkpoint_item ({ITEM[:-2]}zz) is not found."}),
        ("error", {"error": {"code": "CSBS.3001", "message": f"Checkpoint_item ({ITEM[:-2]}zz) is not found."}}),
        ("errorCode", {"errorCode": "CSBS.3001", "errorMsg": f"Checkpoint_item ({ITEM[:-2]}zz) is not found."}),
        ("code", {"code": "CSBS.3001", "message": f"Checkpoint_item ({ITEM[:-2]}zz) is not found."}),
        ("openstack", {"itemNotFound": {"code": 404, "message": f"Checkpoint_item ({ITEM[:-2]}zz) is not found."}}),
    ],
)
async def test_error_shape_applies_to_every_error(clock, shape, gone_body):
    """error_shape writes the 404 of a missing backup, a busy 400 and a fault's 503 all in that shape."""
    emu = emulator(clock, error_shape=shape, faults=(FaultRule("count", "503"),), delete_duration_s=(9, 9))
    async with cloud(emu) as c:
        gone = await c.get_item(ITEM[:-2] + "zz")
        await c.delete_item(CID, ITEM)
        busy = await c.delete_item(CID, ITEM)
        unavailable = await c.count()
    assert (gone.status, gone.body) == (404, gone_body)
    assert (busy.status, code_of(busy.body, shape)) == (400, 400 if shape == "openstack" else "CSBS.2003")
    assert (unavailable.status, code_of(unavailable.body, shape)) == (503, 503 if shape == "openstack" else "APIG.0201")


def code_of(body: dict[str, Any], shape: str) -> object:
    """The code of an error body in ``shape``."""
    if shape == "error":
        return body["error"]["code"]
    if shape == "openstack":
        [(_, inner)] = body.items()
        return inner["code"]
    return body[{"error_code": "error_code", "errorCode": "errorCode", "code": "code"}[shape]]


async def test_request_id_in_body_replaces_the_header(clock):
    """request_id_in_body: errors carry request_id in the body; no answer has X-Request-Id."""
    emu = emulator(clock, request_id_in_body=True)
    async with cloud(emu) as c:
        ok = await c.get_item(ITEM)
        gone = await c.get_item("missing")
    assert "X-Request-Id" not in ok.headers and "X-Request-Id" not in gone.headers
    assert gone.body["error_code"] == "CSBS.3001" and len(gone.body["request_id"]) == 32


# -- the server's clock --------------------------------------------------------------------------------


async def test_date_header_is_the_emulators_wall_time(clock):
    """Date is the emulator's wall time (fake clock included), the clock updated_at is written in."""
    emu = emulator(clock, delete_duration_s=(30, 30))
    async with cloud(emu) as c:
        clock.advance(100)
        deleted = await c.delete_item(CID, ITEM)
        item = (await c.get_item(ITEM)).body["checkpoint_item"]
    server_time = parsedate_to_datetime(deleted.headers["Date"]).timestamp()
    assert server_time == WALL_START + 100
    assert csbs_time(item["updated_at"]) == WALL_START + 100  # the deletion started at the DELETE


# -- numbers and statuses the API leaves open ----------------------------------------------------------


@pytest.mark.parametrize(("fmt", "expected"), [("int", 50), ("float", 50.0), ("string", "50")])
async def test_progress_format(clock, fmt, expected):
    """progress_format writes extend_info.progress as 50, 50.0 or "50"."""
    emu = emulator(clock, progress_format=fmt, delete_duration_s=(10, 10))
    async with cloud(emu) as c:
        await c.delete_item(CID, ITEM)
        clock.advance(5)
        progress = (await c.get_item(ITEM)).body["checkpoint_item"]["extend_info"]["progress"]
    assert progress == expected and type(progress) is type(expected)


@pytest.mark.parametrize(("numeric", "code"), [(False, "2006"), (True, 2006)])
async def test_fail_code_text_or_number_and_failure_times(clock, numeric, code):
    """A failed deletion: fail_code.Code as text or number; updated_at and finished_at are the failure time,
    and taskid is the failed task's, not the backup's."""
    emu = emulator(clock, fail_items=frozenset({ITEM}), fail_code_numeric=numeric, delete_duration_s=(4, 4))
    async with cloud(emu) as c:
        before = (await c.get_item(ITEM)).body["checkpoint_item"]["extend_info"]["taskid"]
        await c.delete_item(CID, ITEM)
        running = (await c.get_item(ITEM)).body["checkpoint_item"]["extend_info"]["taskid"]
        clock.advance(4)
        failed = (await c.get_item(ITEM)).body["checkpoint_item"]
    info = failed["extend_info"]
    assert failed["status"] == "error" and info["fail_op"] == "delete"
    assert info["fail_code"]["Code"] == code
    assert csbs_time(failed["updated_at"]) == csbs_time(info["finished_at"]) == WALL_START + 4
    assert running != before and info["taskid"] == running


async def test_odd_status_while_deleting_then_the_normal_end(clock):
    """odd_status items show the undocumented status while queued and running, then vanish as usual;
    a stuck one keeps showing it."""
    stuck = "00000000-0000-4000-8000-0000000000b2"
    emu = emulator(clock, odd_status=OddStatus("error-deleting", frozenset({ITEM, stuck})),
                   stuck_items=frozenset({stuck}), delete_duration_s=(10, 10), tasks_per_user=1)
    emu.add_item(checkpoint_id=CID, item_id=stuck)
    async with cloud(emu) as c:
        await c.delete_item(CID, ITEM)
        await c.delete_item(CID, stuck)
        during = [await c.status_of(ITEM), await c.status_of(stuck)]  # running, waiting
        clock.advance(10)
        after = [await c.status_of(ITEM), await c.status_of(stuck)]
        clock.advance(3600)
        later = await c.status_of(stuck)
    assert during == ["error-deleting", "error-deleting"]
    assert after == [404, "error-deleting"] and later == "error-deleting"


async def test_odd_status_by_rate_from_yaml_mapping(clock):
    """odd_status given as a mapping (as YAML reads it) with rate 1 hits every deletion."""
    s = Scenario.from_mapping({"project_id": PROJECT, "tokens": {TOKEN: USER},
                               "odd_status": {"status": "frozen", "rate": 1}})
    emu = Emulator(s, clock=clock)
    emu.add_item(checkpoint_id=CID, item_id=ITEM)
    async with cloud(emu) as c:
        await c.delete_item(CID, ITEM)
        status = await c.status_of(ITEM)
    assert s.odd_status == OddStatus("frozen", frozenset(), 1.0)
    assert status == "frozen"


# -- stale failures: an earlier deletion failed ----------------------------------------------------------


async def test_stale_failure_reads_as_old_then_deletes_normally(clock):
    """add_item(stale_delete_failure=True): error/fail_op delete with old times and taskid; a new DELETE
    goes waiting -> deleting -> gone; during status_lag_s GET still shows the old error reading."""
    emu = Emulator(scenario(status_lag_s=5, delete_duration_s=(10, 10), tasks_per_user=1), clock=clock,
                   wall_clock=lambda: WALL_START)
    stale = emu.add_item(checkpoint_id=CID, item_id=ITEM, stale_delete_failure=True)
    other = emu.add_item(checkpoint_id=CID)
    info = stale["extend_info"]
    async with cloud(emu) as c:
        await c.delete_item(CID, other["id"])  # takes the one slot: ITEM will wait
        answer = await c.delete_item(CID, ITEM)
        lagged = (await c.get_item(ITEM)).body["checkpoint_item"]
        clock.advance(5)
        waiting = (await c.get_item(ITEM)).body["checkpoint_item"]
        clock.advance(5)
        deleting = await c.status_of(ITEM)
        clock.advance(10)
        gone = await c.status_of(ITEM)
    assert (stale["status"], info["fail_op"]) == ("error", "delete") and info["fail_reason"]
    assert csbs_time(stale["updated_at"]) == csbs_time(info["finished_at"]) == WALL_START - 3600
    assert answer.status == 200
    assert (lagged["status"], lagged["updated_at"], lagged["extend_info"]["taskid"]) == (
        "error", stale["updated_at"], info["taskid"])
    assert waiting["status"] == "waiting_delete" and waiting["extend_info"]["taskid"] != info["taskid"]
    assert (deleting, gone) == ("deleting", 404)


async def test_stale_failed_items_apply_to_planned_backups(clock):
    """stale_failed_items marks the planned backups with those ids, and only them."""
    emu = Emulator(scenario(stale_failed_items=frozenset({"a-1"})), clock=clock)
    emu.seed_plan([(CID, ["a-1", "a-2"])])
    async with cloud(emu) as c:
        first = (await c.get_item("a-1")).body["checkpoint_item"]
        second = (await c.get_item("a-2")).body["checkpoint_item"]
    assert (first["status"], first["extend_info"]["fail_op"]) == ("error", "delete")
    assert (second["status"], second["extend_info"]["fail_op"]) == ("available", "")


# -- listings whose marker vanished --------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "status"), [("page", 200), ("404", 404)])
async def test_vanished_marker(clock, mode, status):
    """A marker naming a backup deleted since: the next page (page) or 404 CSBS.3001 (404)."""
    emu = Emulator(scenario(vanished_marker=mode, delete_duration_s=(1, 1)), clock=clock)
    emu.seed_plan([(CID, ["a-1", "a-2", "a-3"])])
    async with cloud(emu) as c:
        first = await c.list(limit=1, sort="id:asc")
        marker = first.body["checkpoint_items"][0]["id"]
        await c.delete_item(CID, marker)
        clock.advance(1)
        second = await c.list(limit=1, sort="id:asc", marker=marker)
        unknown = await c.list(limit=1, marker="never-existed")
    assert marker == "a-1" and second.status == status
    if mode == "page":
        assert [i["id"] for i in second.body["checkpoint_items"]] == ["a-2"]
    else:
        assert second.body["error_code"] == "CSBS.3001" and marker in second.body["error_msg"]
    assert unknown.status == 400  # a marker that never named a backup is a bad parameter either way


# -- adoption: deletions left by an earlier run count for the same user -----------------------------------


async def test_outstanding_high_water_counts_every_session_of_the_user(clock):
    """Deletions sent by a 'crashed run' and by the next one, with the same token, share one high-water mark."""
    emu = Emulator(scenario(delete_duration_s=(60, 60)), clock=clock)
    made = emu.seed_plan([(None, [f"b-{n}"]) for n in range(5)])
    async with cloud(emu) as crashed:
        for cid, [item] in made[:3]:
            await crashed.delete_item(cid, item)
    async with cloud(emu) as next_run:
        for cid, [item] in made[3:]:
            await next_run.delete_item(cid, item)
    stats = emu.stats
    assert stats.max_outstanding == {USER: 5} and stats.outstanding(USER) == 5
