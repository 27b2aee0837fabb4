"""Outcomes a pipeline can trust when the endpoint or the cloud misbehaves, for each service (issue 9).

Wrong endpoints and gateway 404s (never "gone"), an unreachable cloud, a fresh failure, deletions left
running by an earlier run (adopted, and counted against the five), a token echoed by a gateway, metrics:
each is run through the real CLI against the service's emulator (behind a loopback gateway, or a server
of the test's own) and judged by what a user sees: exit code, report, log events, the calls received.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from tests.contract.conftest import per_service
from tests.harness import TOKEN, Run, closed_port, cloud_env, gateway_in_thread, new_id, silent_server
from tests.services import SERVICES, Gateway404, Service


def errors_logged(run: Run) -> list[dict[str, Any]]:
    return [e for e in run.events if e.get("level") == "error"]


# -- a 404 is "gone" only when the service says so -------------------------------------------------------------

WRONG_ENDPOINTS = {
    "csbs": [("apigw",), ("apig",), ("html",), ("other service",)],
    "cbr": [("path prefix",), ("apigw",), ("apig",), ("html",), ("other service",)],
}


@per_service(("where",), WRONG_ENDPOINTS)
def test_wrong_endpoint_aborts_before_any_delete(service: Service, where: str, worker: Callable[..., Run]) -> None:
    """An endpoint that serves no API of the service (a gateway answering its 404 to everything: APIGW.0101,
    APIG.0101 or an nginx page; a path the gateway does not know; the other service's endpoint): exit 3,
    no DELETE, every task not_attempted, and one error event naming the endpoint."""
    gateway = (Gateway404(where),) if where in ("apigw", "apig", "html") else ()
    other = next(s for s in SERVICES.values() if s is not service)
    with service.serve(gateway=gateway) as cloud, contextlib.ExitStack() as stack:
        backups = cloud.seed(3)
        url, other_sent = cloud.url, 0
        if where == "path prefix":
            url = f"{cloud.url}/{service.name}"
        elif where == "other service":
            other_cloud = stack.enter_context(other.serve())
            url = other_cloud.url
        run = worker(["delete", *service.flags, "-"], cloud_env(url), stdin=service.text_plan(backups))
        if where == "other service":
            other_sent = other_cloud.requests("delete")
        sent = cloud.requests("delete")
    assert run.code == 3
    assert sent == 0 and other_sent == 0
    assert set(service.outcomes(run).values()) == {"not_attempted"}
    (error,) = errors_logged(run)
    assert url in error["reason"] and f"serves no {service.api} API" in error["reason"]


@per_service(("where",), {"csbs": [("apigw",), ("html",)], "cbr": [("path prefix",), ("apigw",), ("html",)]})
def test_plan_on_a_wrong_endpoint_prints_nothing(service: Service, where: str, worker: Callable[..., Run],
                                                 policy: Callable[[str], str]) -> None:
    """`plan` against an endpoint that serves no API of the service: exit 3 and nothing on stdout."""
    gateway = (Gateway404(where),) if where != "path prefix" else ()
    with service.serve(gateway=gateway) as cloud:
        cloud.seed(3)
        url = f"{cloud.url}/x" if where == "path prefix" else cloud.url
        run = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\n")], cloud_env(url), report=None)
    assert run.code == 3
    assert run.stdout == ""
    (error,) = errors_logged(run)
    assert url in error["reason"] and f"serves no {service.api} API" in error["reason"]


# The wrong-endpoint test above has each service read all three 404 bodies; mid-run, as each suite had
# them: CSBS's three, CBR's one (its gateway's APIGW.0101).
@per_service(("kind",), {"csbs": [("apigw",), ("apig",), ("html",)], "cbr": [("apigw",)]})
def test_gateway_404_mid_run_is_never_gone(service: Service, kind: str, worker: Callable[..., Run]) -> None:
    """After a good preflight every look at a backup (and every listing) answers the gateway's 404: the
    backups are in fact deleted, yet no task is deleted or already_absent on the gateway's word (they time
    out), entries that cover several backups included; a truly absent backup is still already_absent."""
    # the listings of deletions in progress pass: the run must get past its start
    gateway = (Gateway404(kind, "get"), Gateway404(kind, "list", after=service.adoption_listings))
    with service.serve(gateway=gateway) as cloud:
        backups = [*cloud.seed(3), cloud.group(2)]
        absent = cloud.absent()
        run = worker(["delete", *service.flags, "-", "--task-timeout", "0.4", "--request-timeout", "0.5"],
                     cloud_env(cloud.url), stdin=service.text_plan([*backups, absent]))
    assert run.code == 1
    assert service.outcomes(run) == {**{b.key: "timed_out" for b in backups}, absent.key: "already_absent"}
    assert run.named("task_deleted") == []
    assert service.keys_of(run.named("task_already_absent")) == [absent.key]


def test_gateway_404_that_stops_gives_deleted_never_already_absent(service: Service,
                                                                   worker: Callable[..., Run]) -> None:
    """A gateway that loses the API for a while (twelve 404s on the looks): the tasks end deleted once the
    service answers again."""
    with service.serve(gateway=(Gateway404("apigw", "get", times=12),)) as cloud:
        backups = cloud.seed(4)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        lost = cloud.gateway_answers()
        looks = cloud.received("get")
    assert lost == 12
    assert looks > 12
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}


@pytest.mark.parametrize("kind", ["apigw", "html"])
def test_gateway_404_on_delete_is_not_already_absent(service: Service, kind: str, worker: Callable[..., Run]) -> None:
    """DELETEs answered with the gateway's 404 (an absent backup among them) are retried: no task is
    already_absent on the gateway's word; once the API is back they end deleted (or truly absent)."""
    with service.serve(gateway=(Gateway404(kind, "delete", times=4),)) as cloud:
        backups = cloud.seed(2)
        absent = cloud.absent()
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url),
                     stdin=service.text_plan([*backups, absent]))
        lost = cloud.gateway_answers()
        deletes = cloud.received("delete")
        left = cloud.remaining()
    assert run.code == 0
    assert service.outcomes(run) == {**{b.key: "deleted" for b in backups}, absent.key: "already_absent"}
    assert lost == 4
    assert deletes >= 7  # 4 gateway 404s, then one DELETE each
    assert left == []


# -- an unreachable cloud ends the run soon, with nothing claimed ------------------------------------------------


UNREACHABLE_FLAGS = ["--retry-cap", "0.2", "--request-timeout", "0.5", "--task-timeout", "60"]
UNREACHABLE_BOUND_S = 0.2 + 0.5 + 0.5 + 3.0  # the budget, one request in the air at its end, start-up


@pytest.mark.parametrize("where", ["closed port", "silent server"])
def test_unreachable_cloud_ends_within_the_preflight_budget(service: Service, where: str,
                                                            worker: Callable[..., Run]) -> None:
    """Refused or never answered: exit 1 once retry_cap + request_timeout are spent (not the task timeout),
    every task not_attempted, metrics pushed, and one error event naming the endpoint and the last error."""
    backups = [service.absent() for _ in range(3)]
    with contextlib.ExitStack() as stack:
        url = closed_port() if where == "closed port" else stack.enter_context(silent_server())
        gateway = stack.enter_context(gateway_in_thread())
        started = time.monotonic()
        run = worker(["delete", *service.flags, "-", *UNREACHABLE_FLAGS, "--pushgateway", gateway.url],
                     cloud_env(url), stdin=service.text_plan(backups))
        took = time.monotonic() - started
    assert run.code == 1
    assert took < UNREACHABLE_BOUND_S
    assert run.report is not None
    assert service.outcomes(run) == {b.key: "not_attempted" for b in backups}
    assert run.report["exit_code"] == 1
    (error,) = errors_logged(run)
    assert url in error["reason"] and "last error" in error["reason"]
    (pushed,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    samples = pushed.samples()
    assert samples[("csbs_worker_run_exit_code", ())] == 1
    assert samples[("csbs_worker_run_tasks", (("outcome", "not_attempted"),))] == 3


def test_metrics_of_a_run_are_pushed(service: Service, worker: Callable[..., Run]) -> None:
    """A run pushes its tasks per outcome and its exit code."""
    with service.serve() as cloud, gateway_in_thread() as gateway:
        backups = [*cloud.seed(3), cloud.add(image=True)]
        run = worker(["delete", *service.flags, "-", "--pushgateway", gateway.url], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        (pushed,) = [r for r in gateway.requests if r.method in ("POST", "PUT")]
    assert run.code == 1
    samples = pushed.samples()
    assert samples[("csbs_worker_run_tasks", (("outcome", "deleted"),))] == 3
    assert samples[("csbs_worker_run_tasks", (("outcome", "failed"),))] == 1
    assert samples[("csbs_worker_run_exit_code", ())] == 1


# -- a fresh failure at once ------------------------------------------------------------------------------------


def test_fresh_failure_is_failed_without_waiting_for_the_lag_window(service: Service,
                                                                    worker: Callable[..., Run]) -> None:
    """A deletion that ends in error right after our DELETE is failed at the first look that shows it,
    long before a lag window of 30 s."""
    failing = new_id()
    with service.serve(fail_items=frozenset({failing})) as cloud:
        backups = [cloud.add(failing), *cloud.seed(2)]
        started = time.monotonic()
        run = worker(["delete", *service.flags, "-", "--lag-window", "30"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        took = time.monotonic() - started
    assert run.code == 1
    assert service.outcomes(run) == {failing: "failed", backups[1].key: "deleted", backups[2].key: "deleted"}
    assert took < 10


# -- deletions left running by an earlier run count against the five ---------------------------------------------


def test_crashed_runs_deletions_are_adopted_and_count_against_the_five(service: Service,
                                                                       worker: Callable[..., Run]) -> None:
    """A crashed run left five deletions running; the plan, made again in another order, never puts more
    than five outstanding at the provider, and the five get no new DELETE (the rest one each)."""
    with service.serve(delete_duration_s=(0.5, 0.8)) as cloud:
        backups = cloud.seed(10, children=1)
        crashed = backups[:5]
        for backup in crashed:
            cloud.delete_now(backup)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(list(reversed(backups))))
        high = cloud.high_water()
        sent = cloud.sent()
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert high <= 5
    assert all(sent[b.key] == 1 for b in backups)  # the crashed run's five, and one each for the rest
    assert run.named("deletions_in_progress")[0]["adopted"] == 5
    assert set(service.keys_of(run.named("task_adopted"))) == {b.key for b in crashed}
    assert run.named("task_busy") == []


def test_running_deletions_not_in_the_plan_count_against_the_five(service: Service,
                                                                  worker: Callable[..., Run]) -> None:
    """Four deletions of other backups already running (not the plan's) take slots first: the plan's own
    DELETEs never put more than five outstanding; their ends are logged with the backup's own ids."""
    with service.serve(delete_duration_s=(0.5, 0.7)) as cloud:
        others = cloud.seed(4)
        backups = cloud.seed(6)
        foreign_ids = {cloud.listed_ids(b) for b in others}
        for backup in others:
            cloud.delete_now(backup)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        high = cloud.high_water()
        left = cloud.remaining()
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert high <= 5
    assert left == []
    assert run.named("deletions_in_progress")[0]["foreign"] == 4
    ended = run.named("foreign_deletion_ended")
    assert set(service.keys_of(ended)) == {b.key for b in others}
    # CBR: the backup's vault, not its restore point
    assert {tuple(e.get(key) for key in service.row_keys) for e in ended} == foreign_ids


# -- secrets ---------------------------------------------------------------------------------------------------


def test_token_never_shows_even_when_a_gateway_echoes_it(service: Service, worker: Callable[..., Run]) -> None:
    """A gateway that echoes the token in its error bodies (500s that are retried, then a 403 that aborts the
    run): the token is in no log line, no report and no output."""
    def echo(method: str, kind: str, n: int) -> web.Response | None:
        if (method, kind) == ("GET", "backup") and n <= 3:
            return web.json_response({"error_code": "BackupService.9910", "error_msg": f"bad token {TOKEN}"},
                                     status=500)
        if method == "DELETE" and n == 3:
            return web.json_response({"error_code": "BackupService.8600",
                                      "error_msg": f"token {TOKEN} may not delete"}, status=403)
        return None

    with service.serve(answer=echo, delete_duration_s=(0.3, 0.4)) as cloud:
        backups = cloud.seed(4)
        run = worker(["delete", *service.flags, "--concurrency", "2", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
    assert run.code == 3
    assert run.named("request_retry")
    everything = run.stderr + run.stdout + json.dumps(run.report)
    assert TOKEN not in everything
    assert "bad token" in run.stderr  # the echo was logged, redacted
