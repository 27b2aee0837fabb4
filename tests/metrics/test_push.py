"""Pushing run metrics to a Pushgateway: grouping, method, series and values, and failures that never raise."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator

import pytest

from tests.metrics.gateway import FakePushgateway, fake_pushgateway
from worker.engine.outcomes import Outcome
from worker.metrics import RunMetrics, push_run_metrics

PROJECT = "0123456789abcdef0123456789abcdef"
FINISHED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
async def gateway() -> AsyncIterator[FakePushgateway]:
    async with fake_pushgateway() as fake:
        yield fake


def run_metrics(*, succeeded: bool, exit_code: int | None = 0) -> RunMetrics:
    counts: dict[str, int] = ({Outcome.DELETED: 7, Outcome.ALREADY_ABSENT: 2} if succeeded
                              else {Outcome.DELETED: 3, Outcome.FAILED: 1, Outcome.TIMED_OUT: 1})
    return RunMetrics(counts=counts, duration_s=42.5, in_flight_at_exit=0 if succeeded else 2, succeeded=succeeded,
                      finished_at=FINISHED_AT, exit_code=exit_code)


async def push(url: str, metrics: RunMetrics, **options: object) -> str | None:
    """push_run_metrics is blocking (urllib): run it off the loop that serves the fake gateway."""
    return await asyncio.to_thread(push_run_metrics, url, job=str(options.pop("job", "csbs-worker")),
                                   project_id=PROJECT, metrics=metrics, **options)  # type: ignore[arg-type]


async def test_success_is_pushed_with_post_to_the_job_and_project_group(gateway: FakePushgateway) -> None:
    """One POST (pushadd) to /metrics/job/<job>/project/<id>, and None returned."""
    assert await push(gateway.url, run_metrics(succeeded=True), job="csbs-worker-prod") is None
    (request,) = gateway.requests
    assert (request.method, request.path) == ("POST", f"/metrics/job/csbs-worker-prod/project/{PROJECT}")
    assert request.headers["Content-Type"].startswith("text/plain")


async def test_series_and_values_of_a_successful_run(gateway: FakePushgateway) -> None:
    """Counts for all five outcomes, duration, in-flight, success flag, exit code and both timestamps."""
    await push(gateway.url, run_metrics(succeeded=True))
    values = gateway.requests[0].samples()
    assert {outcome: values[("csbs_worker_run_tasks", (("outcome", outcome.value),))] for outcome in Outcome} == {
        Outcome.DELETED: 7, Outcome.ALREADY_ABSENT: 2, Outcome.FAILED: 0, Outcome.TIMED_OUT: 0,
        Outcome.NOT_ATTEMPTED: 0}
    assert values[("csbs_worker_run_duration_seconds", ())] == 42.5
    assert values[("csbs_worker_run_tasks_in_flight_at_exit", ())] == 0
    assert values[("csbs_worker_run_succeeded", ())] == 1
    assert values[("csbs_worker_run_exit_code", ())] == 0
    assert values[("csbs_worker_last_run_timestamp_seconds", ())] == FINISHED_AT
    assert values[("csbs_worker_last_success_timestamp_seconds", ())] == FINISHED_AT


async def test_a_failed_run_never_pushes_a_last_success_time(gateway: FakePushgateway) -> None:
    """Without success the last-success series is left out, so the gateway keeps the previous one."""
    await push(gateway.url, run_metrics(succeeded=False, exit_code=1))
    values = gateway.requests[0].samples()
    assert "csbs_worker_last_success_timestamp_seconds" not in gateway.requests[0].series_names()
    assert values[("csbs_worker_run_succeeded", ())] == 0
    assert values[("csbs_worker_run_exit_code", ())] == 1
    assert values[("csbs_worker_run_tasks_in_flight_at_exit", ())] == 2
    assert values[("csbs_worker_last_run_timestamp_seconds", ())] == FINISHED_AT
    assert values[("csbs_worker_run_tasks", (("outcome", "timed_out"),))] == 1


async def test_no_exit_code_series_when_the_caller_gives_none(gateway: FakePushgateway) -> None:
    """The exit-code series is pushed only when the caller knows the exit code."""
    await push(gateway.url, run_metrics(succeeded=True, exit_code=None))
    assert "csbs_worker_run_exit_code" not in gateway.requests[0].series_names()


async def test_a_job_name_with_a_slash_is_grouped_safely(gateway: FakePushgateway) -> None:
    """A job label that holds a slash goes base64-encoded into the grouping path, not as two segments."""
    await push(gateway.url, run_metrics(succeeded=True), job="team/csbs")
    encoded = base64.urlsafe_b64encode(b"team/csbs").decode()
    assert gateway.requests[0].path == f"/metrics/job@base64/{encoded}/project/{PROJECT}"


async def test_credentials_in_the_url_go_as_basic_auth_not_into_the_path(gateway: FakePushgateway) -> None:
    """user:password in the URL becomes an Authorization header; the request goes to the bare host."""
    url = gateway.url.replace("http://", "http://pusher:s3cret-Pass@")
    assert await push(url, run_metrics(succeeded=True)) is None
    (request,) = gateway.requests
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"pusher:s3cret-Pass").decode()
    assert request.path.startswith("/metrics/job/")


async def test_a_refusing_gateway_gives_its_answer_as_the_error(gateway: FakePushgateway) -> None:
    """An HTTP error comes back as a short message with the status and the gateway's words, and no password."""
    gateway.status, gateway.answer = 400, "pushed metrics are invalid or inconsistent with existing metrics"
    url = gateway.url.replace("http://", "http://pusher:s3cret-Pass@")
    error = await push(url, run_metrics(succeeded=True))
    assert error is not None
    assert "HTTP 400" in error and "inconsistent with existing metrics" in error
    assert "s3cret-Pass" not in error and "\n" not in error and len(error) <= 300


async def test_a_gateway_that_never_answers_costs_at_most_the_timeout(gateway: FakePushgateway) -> None:
    """A hung gateway turns into an error string after timeout_s instead of holding the run."""
    gateway.hang = asyncio.Event()
    error = await push(gateway.url, run_metrics(succeeded=True), timeout_s=0.2)
    assert error is not None and "timed out" in error


def unused_loopback_url(userinfo: str = "") -> str:
    """A loopback URL whose port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://{userinfo}127.0.0.1:{port}"


def test_an_unreachable_gateway_returns_an_error_without_raising() -> None:
    """Connection refused is a returned message naming the gateway, not an exception."""
    url = unused_loopback_url()
    error = push_run_metrics(url, job="csbs-worker", project_id=PROJECT, metrics=run_metrics(succeeded=True),
                             timeout_s=1.0)
    assert error is not None and url in error and "refused" in error.lower()


@pytest.mark.parametrize("url", [
    unused_loopback_url("pusher:s3cret-Pass@"),
    "http://pusher:s3cret-Pass@127.0.0.1:notaport/",
    "ftp://pusher:s3cret-Pass@127.0.0.1/",
    "http://pusher:s3cret%2DPass@127.0.0.1:99999",
])
def test_errors_never_show_the_credentials_of_the_url(url: str) -> None:
    """Whatever goes wrong, the message masks the URL's user info (and the password anywhere in it)."""
    error = push_run_metrics(url, job="csbs-worker", project_id=PROJECT, metrics=run_metrics(succeeded=True),
                             timeout_s=1.0)
    assert error is not None
    assert "s3cret" not in error and "pusher" not in error and "***@127.0.0.1" in error
