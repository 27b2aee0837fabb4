"""`csbs-worker plan --policy FILE` and `delete --policy` against each service's emulator: every page listed,
the keep rules per server, max_deletions, the policy's time zone, the plan piped into `delete -`, and a
listing that keeps failing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.harness import PROJECT, Run, cloud_env
from tests.services import SERVICES, Service

SERVER_A = "5b3e0c9a-2d41-4f6e-8a7b-9c0d1e2f3a4b"
SERVER_B = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
START = datetime(2026, 1, 1, tzinfo=UTC)


def planned(service: Service, run: Run) -> list[str]:
    """The task keys of a printed plan, in its order (a CBR plan says `service: cbr`)."""
    assert run.code == 0, run.stderr[-3000:]
    document = yaml.safe_load(run.stdout)
    assert document.get("service", "csbs") == service.name and document["project_id"] == PROJECT
    return service.planned(document)


def every_page_then_the_pipe(service: Service, worker: Callable[..., Run], policy: Callable[[str], str],
                             tmp_path: Path, **scenario: Any) -> None:
    """1,050 backups (two pages of 1,000) and `keep: last: 1047`: the plan names exactly the 3 oldest;
    `delete -` fed with it deletes them; planning again finds nothing more."""
    rules = policy("keep:\n  last: 1047\nmin_keep: 1\n")
    explain = tmp_path / "explain.json"
    with service.serve(**scenario) as cloud:
        backups = cloud.history(1050, SERVER_A, START)
        oldest = [b.key for b in backups[:3]]
        env = cloud_env(cloud.url)
        plan = worker(["plan", *service.flags, "--policy", rules, "--explain", str(explain)], env, report=None)
        pages = cloud.requests("list")
        deleted = worker(["delete", *service.flags, "-"], env, stdin=plan.stdout)
        again = worker(["plan", *service.flags, "--policy", rules], env, report=None)
        lists = cloud.requests("list")
        left = cloud.remaining()
    assert planned(service, plan) == oldest
    assert pages >= 2
    decisions = json.loads(explain.read_text(encoding="utf-8"))
    assert len(decisions) == 1050
    assert {d["id"] for d in decisions if d["decision"] == "delete"} == set(oldest)
    assert deleted.code == 0
    assert service.outcomes(deleted) == dict.fromkeys(oldest, "deleted")
    assert planned(service, again) == []
    assert lists >= 4  # each listing followed its pages
    assert len(left) == 1047


def test_plan_reads_every_page_and_the_pipe_deletes_exactly_that(service: Service, worker: Callable[..., Run],
                                                                 policy: Callable[[str], str], tmp_path: Path) -> None:
    """Every page is listed, the plan names exactly what the policy drops, and the pipe deletes exactly that."""
    every_page_then_the_pipe(service, worker, policy, tmp_path)


def test_keep_rules_apply_per_server_with_min_keep(service: Service, worker: Callable[..., Run],
                                                   policy: Callable[[str], str]) -> None:
    """Histories are per server: `last: 2` keeps the two newest of each, oldest planned first; `min_keep: 3`
    keeps three of each even with a rule that keeps fewer."""
    with service.serve() as cloud:
        a = [b.key for b in cloud.history(5, SERVER_A, START)]
        b = [b.key for b in cloud.history(4, SERVER_B, START + timedelta(minutes=30))]
        env = cloud_env(cloud.url)
        by_last = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 2\n")], env, report=None)
        by_min = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\nmin_keep: 3\n")], env,
                        report=None)
    assert planned(service, by_last) == [a[0], b[0], a[1], b[1], a[2]]  # oldest first
    assert sorted(planned(service, by_min)) == sorted(a[:2] + b[:1])


def test_plan_refuses_a_policy_without_keep_rules(service: Service, worker: Callable[..., Run],
                                                  policy: Callable[[str], str]) -> None:
    """A policy that would delete everything is refused with exit 2 and prints no plan."""
    rules = policy("keep: {}\n")
    with service.serve() as cloud:
        cloud.history(3, SERVER_A, START)
        run = worker(["plan", *service.flags, "--policy", rules], cloud_env(cloud.url), report=None)
    assert run.code == 2
    assert run.stdout == ""
    assert "policy.yaml" in run.named("bad_input")[0]["error"]


def test_max_deletions_of_the_policy_refuses_the_plan(service: Service, worker: Callable[..., Run],
                                                      policy: Callable[[str], str]) -> None:
    """A plan above the policy's max_deletions is refused (exit 2): `plan` prints nothing, `delete --policy`
    sends no DELETE."""
    rules = policy("keep:\n  last: 1\nmax_deletions: 2\n")
    with service.serve() as cloud:
        cloud.history(6, SERVER_A, START)
        env = cloud_env(cloud.url)
        plan = worker(["plan", *service.flags, "--policy", rules], env, report=None)
        run = worker(["delete", *service.flags, "--policy", rules], env)
        sent = cloud.requests("delete")
    assert plan.code == 2 and plan.stdout == ""
    assert "max_deletions" in plan.named("bad_input")[0]["error"]
    assert run.code == 2 and sent == 0
    assert "max_deletions" in run.named("bad_input")[0]["error"]


def time_zone_decides_the_days(service: Service, worker: Callable[..., Run], policy: Callable[[str], str],
                               **scenario: Any) -> None:
    """At 10:00, 22:30 and 23:30 UTC of one day, `daily: 2` in UTC sees one day (keeps the last), in
    Europe/Berlin two (keeps 22:30 too)."""
    with service.serve(**scenario) as cloud:
        morning, late, later = (cloud.add(resource_id=SERVER_A, created_at=START + offset).key
                                for offset in (timedelta(hours=10), timedelta(hours=22, minutes=30),
                                               timedelta(hours=23, minutes=30)))
        env = cloud_env(cloud.url)
        utc = worker(["plan", *service.flags, "--policy", policy("keep:\n  daily: 2\n")], env, report=None)
        berlin = worker(["plan", *service.flags, "--policy", policy("timezone: Europe/Berlin\nkeep:\n  daily: 2\n")],
                        env, report=None)
    assert planned(service, utc) == [morning, late]
    assert planned(service, berlin) == [morning]
    assert later not in planned(service, utc)


def test_time_zone_of_the_policy_decides_the_days(service: Service, worker: Callable[..., Run],
                                                  policy: Callable[[str], str]) -> None:
    """`daily` days begin in the policy's zone."""
    time_zone_decides_the_days(service, worker, policy)


def test_the_printed_plan_is_refused_by_the_other_service(service: Service, worker: Callable[..., Run],
                                                          policy: Callable[[str], str]) -> None:
    """The printed plan is written for its service: fed to `delete` of the other service it is refused
    (exit 2, naming the --service to use) before any request."""
    other = next(s for s in SERVICES.values() if s is not service)
    with service.serve() as cloud:
        cloud.history(3, SERVER_A, START)
        env = cloud_env(cloud.url)
        plan = worker(["plan", *service.flags, "--policy", policy("keep:\n  last: 1\n")], env, report=None)
        before = cloud.requests()
        run = worker(["delete", *other.flags, "-"], env, stdin=plan.stdout)
        after = cloud.requests()
    assert len(planned(service, plan)) == 2
    assert run.code == 2 and after == before
    assert f"--service {service.name}" in run.named("bad_input")[0]["error"]


def test_delete_with_a_policy_plans_and_deletes(service: Service, worker: Callable[..., Run],
                                                policy: Callable[[str], str]) -> None:
    """`delete --policy` plans and deletes in one run; the report names each task by the service's ids as
    the listing found them (CSBS: record and item; CBR: backup and vault)."""
    with service.serve() as cloud:
        backups = cloud.history(5, SERVER_A, START, children=1)  # per-disk children (CBR) go with their parent
        doomed = backups[:3]
        ids = {cloud.listed_ids(b) for b in doomed}
        run = worker(["delete", *service.flags, "--policy", policy("keep:\n  last: 2\n")], cloud_env(cloud.url))
        left = set(cloud.remaining())
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in doomed}
    assert run.report is not None
    assert {tuple(r[key] for key in service.row_keys) for r in run.report["results"]} == ids
    assert run.named("policy_applied")[0]["delete"] == 3
    assert {b.key for b in backups[3:]} <= left and not {b.key for b in doomed} & left


def test_listing_that_keeps_failing_is_exit_1_with_a_report(service: Service, worker: Callable[..., Run],
                                                            policy: Callable[[str], str]) -> None:
    """When the cloud keeps failing the listing a policy needs, the run gives up within the task timeout:
    exit 1 (a later run may succeed), a report and no DELETE."""
    rules = policy("keep:\n  last: 1\n")
    with service.serve(faults=(service.fault("list", "503"),)) as cloud:
        cloud.history(4, SERVER_A, START)
        run = worker(["delete", *service.flags, "--policy", rules, "--task-timeout", "0.5"], cloud_env(cloud.url))
        sent = cloud.deletes()
    assert run.code == 1
    assert sent == 0
    assert "503" in run.named("run_failed")[0]["reason"]
    assert run.report is not None and run.report["exit_code"] == 1
