"""`csbs-worker delete` end to end, for each service: outcomes, exit codes, the report, calls the cloud received."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.harness import PROJECT, Run, cloud_env, new_id
from tests.services import SERVICES, Service

ZERO_COUNTS = {"deleted": 0, "already_absent": 0, "failed": 0, "timed_out": 0, "not_attempted": 0}


def test_every_backup_deleted_exit_0(service: Service, worker: Callable[..., Run]) -> None:
    """A plan of existing backups: every task deleted, exit 0, one DELETE each (per-disk children, where
    the service has them, go with their parent), nothing left, at most five outstanding, and a report that
    names the service and each task by the service's own ids, as the plan gave them."""
    with service.serve() as cloud:
        backups = cloud.seed(12, children=1)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        sent = cloud.sent()
        left = cloud.remaining()
        high = cloud.high_water()
    assert run.code == 0
    assert run.report is not None
    assert run.report["service"] == service.name and run.report["project_id"] == PROJECT
    assert run.report["counts"] == {**ZERO_COUNTS, "deleted": 12}
    row = run.report["results"][0]
    assert {*service.row_keys, "outcome", "attempts", "error_code", "error_message"} <= set(row)
    other = next(s for s in SERVICES.values() if s is not service)
    assert not set(other.row_keys) & set(row)
    assert ({tuple(r[key] for key in service.row_keys) for r in run.report["results"]}
            == {service.row_ids(b) for b in backups})  # a CBR plan without vaults: vault_id None
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}
    assert all(sent[b.key] == 1 for b in backups)
    assert sum(sent.values()) == 12  # no DELETE of a child
    assert left == []
    assert high <= 5
    deleted = run.named("task_deleted")
    assert len(deleted) == 12 and set(service.keys_of(deleted)) == {b.key for b in backups}
    summary = run.named("run_summary")[0]
    assert summary["exit_code"] == 0 and summary["deleted"] == 12


def test_mixed_outcomes_exit_1(service: Service, worker: Callable[..., Run], write_plan: Callable[..., str]) -> None:
    """Absent, image-registered, failing and stuck backups give their own outcomes; the rest are deleted."""
    failing, stuck = new_id(), new_id()
    with service.serve(fail_items=frozenset({failing}), stuck_items=frozenset({stuck})) as cloud:
        good, image = cloud.add(), cloud.add(image=True)
        fails, sticks = cloud.add(failing), cloud.add(stuck)
        absent = cloud.absent()
        plan = write_plan(service.text_plan([good, absent, image, fails, sticks]), "plan.txt")
        run = worker(["delete", *service.flags, plan, "--task-timeout", "0.8"], cloud_env(cloud.url))
    assert run.code == 1
    assert service.outcomes(run) == {good.key: "deleted", absent.key: "already_absent", image.key: "failed",
                                     failing: "failed", stuck: "timed_out"}
    rows = service.rows(run)
    assert rows[image.key]["error_code"] == service.image_code
    assert rows[image.key]["http_status"] == 400
    assert rows[failing]["error_message"]
    failed_events = run.named("task_failed")
    assert set(service.keys_of(failed_events)) == {image.key, failing}
    assert all(e["run_id"] for e in failed_events)


def test_absent_backup_is_already_absent(service: Service, worker: Callable[..., Run]) -> None:
    """A backup that does not exist is already_absent (the service's 404), with no error, and the run
    succeeds."""
    with service.serve() as cloud:
        present, absent = cloud.add(), cloud.absent()
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan([present, absent]))
    assert run.code == 0
    assert service.outcomes(run) == {present.key: "deleted", absent.key: "already_absent"}
    assert service.rows(run)[absent.key]["error_code"] is None


def test_json_lines_plan_on_stdin(service: Service, worker: Callable[..., Run]) -> None:
    """A JSON Lines plan on stdin is detected and carried out."""
    with service.serve() as cloud:
        backups = cloud.seed(3)
        run = worker(["delete", *service.flags], cloud_env(cloud.url), stdin=service.jsonl_plan(backups))
    assert run.code == 0
    assert service.outcomes(run) == {b.key: "deleted" for b in backups}


def test_duplicates_are_deleted_once_with_a_warning(service: Service, worker: Callable[..., Run],
                                                     write_plan: Callable[..., str]) -> None:
    """A backup named twice (text, and again in a second plan file) gets one task, one DELETE, a warning."""
    with service.serve() as cloud:
        one, two = cloud.seed(2)
        first = write_plan(service.text_plan([one, two, one]), "a.txt")
        second = write_plan(service.yaml_plan([two]), "b.yaml")
        run = worker(["delete", *service.flags, first, second], cloud_env(cloud.url))
        sent = cloud.sent()
    assert run.code == 0
    assert service.outcomes(run) == {one.key: "deleted", two.key: "deleted"}
    assert sent == {one.key: 1, two.key: 1}
    assert len(run.named("plan_duplicate")) == 2


def test_max_deletions_refuses_the_plan(service: Service, worker: Callable[..., Run]) -> None:
    """--max-deletions N refuses a bigger plan with exit 2 before any DELETE."""
    with service.serve() as cloud:
        backups = cloud.seed(4)
        run = worker(["delete", *service.flags, "--max-deletions", "3", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        sent = cloud.deletes()
    assert run.code == 2
    assert sent == 0
    assert "more than --max-deletions 3" in run.named("bad_input")[0]["error"]


def test_dry_run_sends_no_delete(service: Service, worker: Callable[..., Run]) -> None:
    """--dry-run prints what would be deleted (an entry that covers several backups says so where the
    service knows it), reports every task not_attempted, exits 0, and sends no DELETE."""
    with service.serve() as cloud:
        backups = [*cloud.seed(3), cloud.group(2)]
        before = cloud.remaining()
        run = worker(["delete", *service.flags, "--dry-run", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
        sent = cloud.requests("delete")
        left = cloud.remaining()
    assert run.code == 0
    assert sent == 0
    assert sorted(left) == sorted(before)
    assert run.report is not None and run.report["dry_run"] is True
    assert run.report["counts"] == {**ZERO_COUNTS, "not_attempted": 4}
    assert run.stdout.splitlines() == [b.listed for b in backups]


def test_concurrency_limit_at_the_provider(service: Service, worker: Callable[..., Run]) -> None:
    """Five slots by default, --concurrency 2 when asked: the emulator never sees more outstanding."""
    with service.serve(delete_duration_s=(0.1, 0.2)) as cloud:
        backups = cloud.seed(12)
        run = worker(["delete", *service.flags, "-"], cloud_env(cloud.url), stdin=service.text_plan(backups))
        default_high = cloud.high_water()
    with service.serve(delete_duration_s=(0.1, 0.2)) as cloud:
        backups = cloud.seed(8)
        limited = worker(["delete", *service.flags, "--concurrency", "2", "-"], cloud_env(cloud.url),
                         stdin=service.text_plan(backups))
        limited_high = cloud.high_water()
    assert run.code == 0 and limited.code == 0
    assert default_high == 5
    assert limited_high == 2


def test_report_to_stdout(service: Service, worker: Callable[..., Run]) -> None:
    """--report - writes the JSON report to stdout: the run, the service, the calls made, one row per task."""
    with service.serve() as cloud:
        backups = cloud.seed(2)
        run = worker(["delete", *service.flags, "--report", "-", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups), report=None)
    report: dict[str, Any] = json.loads(run.stdout)
    assert report["service"] == service.name
    assert report["counts"]["deleted"] == 2
    assert report["project_id"] == PROJECT
    assert {"run_id", "started_at", "ended_at", "results"} <= set(report)
    assert {*service.row_keys, "outcome", "attempts", "error_code", "error_message", "submitted_at",
            "ended_at"} <= set(report["results"][0])
    assert {service.key_of(r) for r in report["results"]} == {b.key for b in backups}
    assert report["calls"]["delete"] == 2


def test_dry_run_with_the_report_on_stdout_keeps_stdout_one_json_document(service: Service,
                                                                          worker: Callable[..., Run]) -> None:
    """--dry-run --report -: the report alone on stdout (the plan listing goes to stderr), nothing deleted."""
    with service.serve() as cloud:
        backups = cloud.seed(2)
        run = worker(["delete", *service.flags, "--dry-run", "--report", "-", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups), report=None)
        left = cloud.remaining()
    report: dict[str, Any] = json.loads(run.stdout)
    assert run.code == 0 and report["dry_run"] is True
    assert report["counts"]["not_attempted"] == 2
    assert all(b.listed in run.stderr for b in backups)
    assert len(left) == 2


def test_progress_events_off_a_terminal(service: Service, worker: Callable[..., Run]) -> None:
    """Off a terminal the run logs `progress` events (done, failed, in flight, rate, ETA) at the set interval."""
    with service.serve(delete_duration_s=(0.2, 0.3)) as cloud:
        backups = cloud.seed(10)
        run = worker(["delete", *service.flags, "--progress-interval", "0.1", "-"], cloud_env(cloud.url),
                     stdin=service.text_plan(backups))
    assert run.code == 0
    progress = run.named("progress")
    assert len(progress) >= 3
    assert {"total", "finished", "in_flight", "deleted", "failed", "rate_per_min", "eta_s"} <= set(progress[-1])
    assert all(event["total"] == 10 and 0 <= event["in_flight"] <= 5 for event in progress)
