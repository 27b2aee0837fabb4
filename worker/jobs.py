"""The ``delete`` and ``plan`` jobs: read settings and plan, run, report, return the exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any

import structlog

from worker.cloud import build_client, preflight
from worker.csbs import AnswerKind, CsbsClient
from worker.errors import AbortError, ServiceError, UsageError
from worker.logs import configure_logging
from worker.metrics import RunMetrics, push_run_metrics
from worker.outcomes import ExitCode, Outcome
from worker.pacing import PollTiming
from worker.plan import Plan, Task, read_plan
from worker.policy import Policy, load_policy
from worker.progress import StatusLine, report_progress
from worker.report import Results, exit_code, iso, write_report
from worker.retention import check_max_deletions, decide, explain_records, plan_document, render_plan_yaml
from worker.retry import RetryPolicy
from worker.scheduler import Scheduler
from worker.settings import Secret, Settings, TokenCredentials, load_settings, require_cloud
from worker.stopping import StopRequests
from worker.tracking import TaskRunner, TrackingPolicy

log = structlog.get_logger()

EmbeddedCloud = Callable[[Plan, str], AbstractAsyncContextManager[tuple[str, str]]]
"""Starts a CSBS emulator seeded with a plan's backups in a project; yields (endpoint, token)."""

DEMO_PROJECT_ID = "0123456789abcdef0123456789abcdef"


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {key: value for key, value in vars(args).items() if key != "handler"}


def _start(args: argparse.Namespace) -> tuple[Settings, StatusLine] | int:
    """Settings and logging, or the exit code of a bad setting (logged with the format the flags ask for)."""
    status = StatusLine(sys.stderr)
    try:
        settings = load_settings(_flags(args))
    except UsageError as error:
        fallback = args.log_format if args.log_format in ("auto", "json", "console") else "auto"
        configure_logging(fallback, "info", write=status.write)
        log.error("bad_input", error=str(error), deleted=0)
        return ExitCode.USAGE
    configure_logging(settings.log_format, settings.log_level, write=status.write)
    return settings, status


def run_delete(args: argparse.Namespace, embedded: EmbeddedCloud | None = None) -> int:
    """``csbs-worker delete``: the whole job, from plan to exit code."""
    started = _start(args)
    if isinstance(started, int):
        return started
    settings, status = started
    run_id = uuid.uuid4().hex[:16]
    structlog.contextvars.bind_contextvars(run_id=run_id)
    try:
        return asyncio.run(_delete_job(args, settings, status, run_id, embedded))
    except UsageError as error:
        log.error("bad_input", error=str(error), deleted=0)
        return ExitCode.USAGE
    finally:
        structlog.contextvars.clear_contextvars()


def run_plan(args: argparse.Namespace) -> int:
    """``csbs-worker plan``: list, apply the policy, print the plan."""
    started = _start(args)
    if isinstance(started, int):
        return started
    settings, _ = started
    try:
        policy = load_policy(args.policy)
        settings = require_cloud(settings)
        document = asyncio.run(_plan_job(settings, policy, args.explain))
    except UsageError as error:
        log.error("bad_input", error=str(error))
        return ExitCode.USAGE
    except AbortError as error:
        log.error("run_aborted", reason=str(error))
        return ExitCode.ABORTED
    except ServiceError as error:
        log.error("run_failed", reason=str(error))
        return ExitCode.INCOMPLETE
    sys.stdout.write(document)
    return ExitCode.OK


async def _plan_job(settings: Settings, policy: Policy, explain: str | None) -> str:
    async with build_client(settings) as client:
        await preflight(client)
        plan_tasks, decisions = await _plan_from_policy(client, settings, policy, explain)
    log.info("plan_ready", deletions=len(plan_tasks), governed=len(decisions))
    return render_plan_yaml(decisions, settings.project_id)


async def _plan_from_policy(client: CsbsClient, settings: Settings, policy: Policy,
                            explain: str | None) -> tuple[list[Task], list[Any]]:
    """List every backup of the project, decide, write ``--explain``, and return the deletion tasks.

    The listing may take as long as one task (``task_timeout``), retrying throttled and transient pages.
    """
    answer = await client.list_items(deadline=asyncio.get_running_loop().time() + settings.task_timeout_s)
    if answer.kind is not AnswerKind.OK:
        if answer.kind is AnswerKind.FATAL:
            raise AbortError(f"listing the backups was refused: HTTP {answer.status} {answer.error_code}")
        raise ServiceError(f"cannot list the project's backups: HTTP {answer.status} {answer.error_code} "
                           f"{answer.error_msg} (request id {answer.request_id})")
    try:
        decisions = decide(answer.data, policy)
    except ValueError as error:  # a backup the service described in a way the planner cannot read
        raise UsageError(f"cannot apply {policy.source} to the listed backups: {error}") from None
    if explain:
        await asyncio.to_thread(_write_json, explain, explain_records(decisions))
    doomed = check_max_deletions(decisions, policy)
    log.info("policy_applied", policy=policy.source, governed=len(decisions), keep=len(decisions) - doomed,
             delete=doomed, timezone=str(policy.timezone))
    document = plan_document(decisions, settings.project_id)
    tasks = [Task(entry["checkpoint_id"], item, policy.source, None)
             for entry in document["deletions"] for item in entry["checkpoint_items"]]
    return tasks, decisions


def _write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def _read_plan(args: argparse.Namespace, project_id: str | None) -> Plan:
    return read_plan(args.plans, fmt=args.format, project_id=project_id,
                     on_warning=lambda message: log.warning("plan_duplicate", detail=message))


def _check_usage(args: argparse.Namespace) -> None:
    if args.policy and args.plans:
        raise UsageError("give either PLAN files or --policy, not both")
    if args.explain and not args.policy:
        raise UsageError("--explain goes with --policy")
    if args.emulator_scenario and not args.emulator:
        raise UsageError("--emulator-scenario goes with --emulator")


def _check_size(count: int, settings: Settings) -> None:
    if settings.max_deletions is not None and count > settings.max_deletions:
        raise UsageError(f"the plan holds {count} deletion tasks, more than --max-deletions "
                         f"{settings.max_deletions}; nothing was deleted")


@contextlib.asynccontextmanager
async def _cloud(args: argparse.Namespace, settings: Settings,
                 embedded: EmbeddedCloud | None) -> AsyncIterator[tuple[Settings, Plan | None]]:
    """The settings of the cloud to talk to, and the plan when it had to be read first (``--emulator``)."""
    if not args.emulator:
        yield require_cloud(settings), None
        return
    if embedded is None:
        raise UsageError("--emulator is not available here")
    project_id = settings.project_id or DEMO_PROJECT_ID
    plan = _read_plan(args, project_id) if not args.policy else Plan()
    async with embedded(plan, project_id) as (endpoint, token):
        log.info("emulator_started", endpoint=endpoint, project_id=project_id)
        yield replace(settings, endpoint=endpoint, project_id=project_id,
                      credentials=TokenCredentials(Secret(token))), plan


async def _delete_job(args: argparse.Namespace, settings: Settings, status: StatusLine, run_id: str,
                      embedded: EmbeddedCloud | None) -> int:
    _check_usage(args)
    policy = load_policy(args.policy) if args.policy else None
    started_at = time.time()
    stops = StopRequests()
    stops.install(settings.deadline_s)
    results, end, calls = Results(Plan()), _RunEnd(), {}
    try:
        async with _cloud(args, settings, embedded) as (settings, plan), build_client(settings) as client:
            tasks: Sequence[Task] = Plan()
            if policy is None:  # the plan is read and checked whole before the cloud is asked anything
                tasks = plan if plan is not None else _read_plan(args, settings.project_id)
                results = Results(tasks)
            try:
                await preflight(client)
                if policy is not None:
                    tasks = (await _plan_from_policy(client, settings, policy, args.explain))[0]
                    results = Results(tasks)
                _check_size(len(tasks), settings)
                log.info("run_started", tasks=len(tasks), dry_run=args.dry_run, project_id=settings.project_id,
                         endpoint=settings.endpoint, concurrency=settings.concurrency)
                if args.dry_run:
                    end = await _dry_run(client, tasks)
                else:
                    end = await _execute(client, settings, tasks, results, status, stops)
            except (AbortError, ServiceError) as error:  # before any DELETE: still report and push
                aborted = isinstance(error, AbortError)
                log.error("run_aborted" if aborted else "run_failed", reason=str(error))
                end = _RunEnd(aborted=aborted, unfinished=not aborted)
            finally:
                calls = dict(client.calls)
    finally:
        stops.remove()
    return await _finish(settings, run_id, started_at, results, end, calls, dry_run=args.dry_run)


@dataclass
class _RunEnd:
    """How the run ended, beyond what the task outcomes say."""

    stopped: bool = False
    aborted: bool = False
    unfinished: bool = False  # the cloud failed before the tasks were known
    in_flight: int = 0


async def _dry_run(client: CsbsClient, tasks: Sequence[Task]) -> _RunEnd:
    """Print the tasks as a plain-text plan; whole records are listed (read only) to show their backups."""
    out = sys.stdout
    for task in tasks:
        if task.item_id is not None:
            out.write(f"{task.checkpoint_id} {task.item_id}\n")
            continue
        answer = await client.list_items(checkpoint_id=task.checkpoint_id)
        items = answer.data if answer.kind is AnswerKind.OK else None
        note = f"{len(items)} backups" if items else ("absent" if items == [] else "could not be listed")
        out.write(f"{task.checkpoint_id}  # whole record: {note}\n")
        log.info("dry_run_record", checkpoint_id=task.checkpoint_id, backups=len(items) if items else 0)
    out.flush()
    return _RunEnd()


def _tracking_policy(settings: Settings, retry: RetryPolicy) -> TrackingPolicy:
    return TrackingPolicy(
        task_timeout_s=settings.task_timeout_s,
        lag_window_s=settings.lag_window_s,
        timing=PollTiming(settings.poll_first_s, settings.poll_min_s, settings.poll_max_s),
        retry=retry,
    )


async def _execute(client: CsbsClient, settings: Settings, tasks: Sequence[Task], results: Results,
                   status: StatusLine, stops: StopRequests) -> _RunEnd:
    runner = TaskRunner(client, _tracking_policy(settings, client.retry))
    scheduler = Scheduler(runner, results, concurrency=settings.concurrency, grace_s=settings.grace_s,
                          hold_s=settings.task_timeout_s, hold_poll_s=settings.poll_max_s)
    stops.attach(scheduler.request_stop)
    shower = asyncio.create_task(report_progress(scheduler.progress, status, settings.progress_interval_s))
    try:
        await scheduler.run(tasks)
    finally:
        shower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await shower
    return _RunEnd(stopped=scheduler.stop_reason is not None, aborted=scheduler.aborted is not None,
                   in_flight=scheduler.progress.in_flight)


async def _finish(settings: Settings, run_id: str, started_at: float, results: Results, end: _RunEnd,
                  calls: dict[str, int], *, dry_run: bool) -> int:
    """Summary, report and metrics; returns the exit code."""
    ended_at = time.time()
    counts = results.counts()
    code = exit_code(counts, stopped=end.stopped, aborted=end.aborted, unfinished=end.unfinished)
    sent = len(results.plan) - counts[Outcome.NOT_ATTEMPTED]
    log.info("run_summary", exit_code=int(code), duration_s=round(ended_at - started_at, 3), tasks=len(results.plan),
             calls=calls, calls_per_task=round(sum(calls.values()) / sent, 2) if sent else None, dry_run=dry_run,
             **counts)
    if settings.report:
        header = {"run_id": run_id, "started_at": iso(started_at), "ended_at": iso(ended_at),
                  "project_id": settings.project_id, "dry_run": dry_run, "exit_code": int(code), "calls": calls}
        await asyncio.to_thread(write_report, settings.report, header, results)
    if settings.pushgateway and not dry_run:  # a dry run deletes nothing: it must not look like a success
        metrics = RunMetrics(counts=counts, duration_s=ended_at - started_at, in_flight_at_exit=end.in_flight,
                             succeeded=code is ExitCode.OK, finished_at=ended_at, exit_code=int(code))
        error = await asyncio.to_thread(push_run_metrics, settings.pushgateway, job=settings.pushgateway_job,
                                        project_id=settings.project_id or "", metrics=metrics)
        if error:
            log.warning("pushgateway_failed", error=error)
        else:
            log.info("metrics_pushed", pushgateway_job=settings.pushgateway_job)
    return code
