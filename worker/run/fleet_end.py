"""The end of a ``fleet`` run: the fleet's exit code, the summary, the report with its ``targets`` and the metrics
(one group per target, plus the fleet's own) (docs/fleet.md, "Report", "Exit code", "Metrics")."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from worker.display import Display
from worker.engine.outcomes import ExitCode, Outcome, iso
from worker.engine.report import Results, TargetReport, summed_counts, write_fleet_report
from worker.errors import CsbsWorkerError
from worker.metrics import RunMetrics, push_run_metrics
from worker.run.finish import report_to
from worker.services import lookup
from worker.settings import Settings
from worker.summary import RunView, problems_of, show_summary

log = structlog.get_logger()

PRECEDENCE = (ExitCode.USAGE, ExitCode.STOPPED, ExitCode.ABORTED, ExitCode.INCOMPLETE, ExitCode.OK)
"""The fleet's exit code is the first of these that any target (or the fleet itself) ended with."""


@dataclass(frozen=True)
class TargetEnd:
    """How one target ended, as the report and the metrics show it."""

    name: str
    user: str
    service: str
    project_id: str
    endpoint: str
    exit_code: ExitCode
    results: Results
    calls: Mapping[str, int]
    reason: str | None = None  # why it ended before its deletions, when it did


@dataclass(frozen=True)
class FleetEnd:
    """How the whole fleet run ended."""

    run_id: str
    started_at: float
    ended_at: float
    path: str
    selected: str | None  # the one user served (--shard, --user), or None for all
    dry_run: bool
    stopped: bool
    error: CsbsWorkerError | None
    targets: Sequence[TargetEnd]
    in_flight: int  # tasks in flight that a stop or an abort cut off, over every pool


def fleet_exit_code(end: FleetEnd) -> ExitCode:
    """2 if anything was invalid; else 4 if stopped; else 3 if any target or user was aborted; else 1 if any
    target has failed or timed-out tasks or could not be reached; else 0."""
    if end.error is not None and end.error.exit_code is ExitCode.USAGE:
        return ExitCode.USAGE
    codes = {target.exit_code for target in end.targets}
    if end.stopped:
        codes.add(ExitCode.STOPPED)
    if end.error is not None:
        codes.add(end.error.exit_code)
    return next(code for code in PRECEDENCE if code in codes or code is ExitCode.OK)


async def finish_fleet(settings: Settings, end: FleetEnd, display: Display, redact: Callable[[str], str]) -> ExitCode:
    """Summary, report and metrics; returns the fleet's exit code."""
    code = fleet_exit_code(end)
    counts = summed_counts(target.results for target in end.targets)
    calls = sum(sum(target.calls.values()) for target in end.targets)
    tasks = sum(len(target.results.plan) for target in end.targets)
    sent = tasks - counts[Outcome.NOT_ATTEMPTED]
    calls_per_task = round(calls / sent, 2) if sent else None
    for target in end.targets:
        log.info("target_summary", user=target.user, target=target.name, exit_code=int(target.exit_code),
                 calls=dict(target.calls), reason=target.reason, **target.results.counts())
    log.info("run_summary", exit_code=int(code), duration_s=round(end.ended_at - end.started_at, 3),
             targets=len(end.targets), tasks=tasks,
             calls_per_task=calls_per_task, dry_run=end.dry_run, **counts)
    if settings.report and code is not ExitCode.USAGE:
        code = await _report(settings.report, end, code, redact)
    if settings.pushgateway and not end.dry_run and code is not ExitCode.USAGE:
        await _push(settings, end, code, counts)
    problems, problem_count = problems_of(
        (result for target in end.targets for result in target.results.by_index.values()), redact)
    show_summary(display, RunView(counts, end.ended_at - end.started_at, calls_per_task, int(code), problems,
                                  problem_count, end.dry_run))
    return code


async def _report(path: str, end: FleetEnd, code: ExitCode, redact: Callable[[str], str]) -> ExitCode:
    header = {"run_id": end.run_id, "started_at": iso(end.started_at), "ended_at": iso(end.ended_at),
              "fleet": end.path, "user": end.selected, "dry_run": end.dry_run, "exit_code": int(code)}
    targets = [TargetReport({"name": t.name, "user": t.user, "service": t.service, "project_id": t.project_id,
                             "endpoint": t.endpoint, "exit_code": int(t.exit_code), "reason": t.reason,
                             "calls": dict(t.calls)},
                            t.results, lookup.service(t.service).id_keys) for t in end.targets]
    try:
        await report_to(path, functools.partial(write_fleet_report, path, header, targets, redact))
    except OSError as failure:
        log.error("report_failed", report=path, error=failure.strerror or str(failure))
        return max(code, ExitCode.INCOMPLETE) if code is ExitCode.OK else code
    return code


async def _push(settings: Settings, end: FleetEnd, code: ExitCode, counts: Mapping[str, int]) -> None:
    """One group per target (``project`` and ``target``), so the alert rules work per target, and one for the
    fleet (``project`` = ``fleet``, ``fleet`` = the file's name, ``user`` = the user served or ``all``)."""
    duration_s = end.ended_at - end.started_at
    pushes = [(target.project_id, {"target": target.name},
               RunMetrics(counts=target.results.counts(), duration_s=duration_s, in_flight_at_exit=0,
                          succeeded=target.exit_code is ExitCode.OK, finished_at=end.ended_at,
                          exit_code=int(target.exit_code)))
              for target in end.targets]
    pushes.append(("fleet", {"fleet": Path(end.path).stem, "user": end.selected or "all"},
                   RunMetrics(counts=counts, duration_s=duration_s, in_flight_at_exit=end.in_flight,
                              succeeded=code is ExitCode.OK, finished_at=end.ended_at, exit_code=int(code))))
    # All at once: a pod's grace after SIGTERM leaves seconds for them, however many targets there are.
    failures = await asyncio.gather(*(
        asyncio.to_thread(push_run_metrics, settings.pushgateway or "", job=settings.pushgateway_job,
                          project_id=project_id, metrics=metrics, grouping=grouping)
        for project_id, grouping, metrics in pushes))
    for (_, grouping, _), failure in zip(pushes, failures, strict=True):
        if failure:
            log.warning("pushgateway_failed", error=failure, **grouping)
    log.info("metrics_pushed", pushgateway_job=settings.pushgateway_job, groups=failures.count(None))
