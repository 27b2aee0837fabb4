"""Guards on the whole population, for each service: `max_deletions_percent` refuses a plan that deletes too
large a share of the governed backups (exit 2), and no plan is made from part of a listing: a page that keeps
failing, pages that do not add up to the service's count, a marker that keeps vanishing (CSBS) all stop the
plan (exit 1) with nothing planned and nothing deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.contract.test_plan_command import planned
from tests.harness import Run, cloud_env
from tests.services import SERVICES, Service

SERVER_A = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"
START = datetime(2026, 1, 1, tzinfo=UTC)
TWO_PAGES = 1050  # the worker asks for pages of 1,000


def refused_with_nothing_planned(run: Run, code: int) -> str:
    """The run's exit code is ``code``, it printed no plan, and its error is returned."""
    assert run.code == code, run.stderr[-3000:]
    assert run.stdout == ""
    events = run.named("bad_input") + run.named("run_failed")
    return str(events[0].get("error") or events[0].get("reason"))


def test_a_plan_above_max_deletions_percent_is_refused_naming_the_figure(
        service: Service, worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """`keep: last: 1` over 6 backups deletes 5 (83.33 %): above 80 % the plan is refused (exit 2) naming both
    shares, `plan` prints nothing and `delete --policy` sends no DELETE; at 85 % the same plan is made."""
    def share(percent: int) -> str:
        return policy(f"keep:\n  last: 1\nmax_deletions_percent: {percent}\n")

    with service.serve() as cloud:
        cloud.history(6, SERVER_A, START)
        env = cloud_env(cloud.url)
        refused = worker(["plan", *service.flags, "--policy", share(80)], env, report=None)
        deleted = worker(["delete", *service.flags, "--policy", share(80)], env)
        sent = cloud.deletes()
        allowed = worker(["plan", *service.flags, "--policy", share(85)], env, report=None)
    error = refused_with_nothing_planned(refused, 2)
    assert "would delete 5 of 6 governed backups (83.33 %), more than max_deletions_percent (80 %)" in error
    assert deleted.code == 2 and sent == 0
    assert len(planned(service, allowed)) == 5


def test_a_page_that_keeps_failing_mid_listing_plans_nothing(service: Service, worker: Callable[..., Run],
                                                             policy: Callable[[str], str]) -> None:
    """The first page of 1,000 is listed, the second keeps failing (503) until the listing's time is up: exit 1
    and no plan from the first page alone."""
    with service.serve(faults=(service.fault("list", "503", after=1),)) as cloud:
        cloud.history(TWO_PAGES, SERVER_A, START)
        env = {**cloud_env(cloud.url), "CSBS_TASK_TIMEOUT": "0.5"}  # how long the listing may take
        run = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\n")], env, report=None)
    assert "503" in refused_with_nothing_planned(run, 1)


def test_pages_that_do_not_add_up_to_the_count_plan_nothing(service: Service, worker: Callable[..., Run],
                                                            policy: Callable[[str], str]) -> None:
    """Every page after the first comes back empty, as if the listing had ended after 1,000 of 1,050 backups:
    the pages never add up to the service's count, and after three passes the plan is given up (exit 1); with
    `delete --policy`, no DELETE is sent."""
    rules = policy("keep:\n  last: 1\n")
    with service.serve(faults=(service.fault("list", "empty-page", after=1),)) as cloud:
        cloud.history(TWO_PAGES, SERVER_A, START)
        env = cloud_env(cloud.url)
        run = worker(["plan", *service.flags, "--policy", rules], env, report=None)
        deleted = worker(["delete", *service.flags, "--policy", rules], env)
        sent = cloud.deletes()
    error = refused_with_nothing_planned(run, 1)
    assert "did not add up to the service's count 3 times in a row" in error
    assert f"the service counted {TWO_PAGES}" in error
    assert [e["attempt"] for e in run.named("listing_incomplete")] == [1, 2, 3]
    assert deleted.code == 1 and sent == 0


def test_a_pass_that_does_not_add_up_is_listed_again(service: Service, worker: Callable[..., Run],
                                                     policy: Callable[[str], str]) -> None:
    """One page comes back empty once: that pass does not add up, the next one does, and the plan is made
    from it."""
    with service.serve(faults=(service.fault("list", "empty-page", times=1),)) as cloud:
        backups = cloud.history(4, SERVER_A, START)
        run = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\n")], cloud_env(cloud.url),
                     report=None)
    assert planned(service, run) == [b.key for b in backups[:3]]
    assert [e["attempt"] for e in run.named("listing_incomplete")] == [1]


def test_a_marker_that_keeps_vanishing_plans_nothing(worker: Callable[..., Run], policy: Callable[[str], str]) -> None:
    """CSBS pages by marker (CBR by offset): when every second page's marker has vanished (404 CSBS.3001), the
    listing starts over three times and then gives up (exit 1), planning nothing from the pages it had."""
    service = SERVICES["csbs"]
    with service.serve(faults=(service.fault("list", "vanished-marker"),)) as cloud:
        cloud.history(TWO_PAGES, SERVER_A, START)
        run = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\n")], cloud_env(cloud.url),
                     report=None)
    assert "page markers kept vanishing" in refused_with_nothing_planned(run, 1)
    assert len(run.named("csbs_listing_restarted")) == 3


def test_a_vanished_marker_once_is_recovered_by_listing_again(worker: Callable[..., Run],
                                                              policy: Callable[[str], str]) -> None:
    """CSBS: a marker that vanished once starts the listing over, and the plan is made from the whole listing."""
    service = SERVICES["csbs"]
    with service.serve(faults=(service.fault("list", "vanished-marker", after=1, times=1),)) as cloud:
        backups = cloud.history(TWO_PAGES, SERVER_A, START)
        run = worker(["plan", *service.flags, "--policy", policy(f"keep:\n  last: {TWO_PAGES - 2}\n")],
                     cloud_env(cloud.url), report=None)
    assert planned(service, run) == [b.key for b in backups[:2]]
    assert len(run.named("csbs_listing_restarted")) == 1
