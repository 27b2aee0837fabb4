"""The end of a ``delete`` run: the exit code, the summary, the report and the metrics push.

Every run that read its settings gets here, whatever stopped it: a bad plan (exit 2) still pushes its
metrics, so a broken config shows in the alerts; a report that cannot be written at the end is an error
(exit 1) that is logged, and the metrics are pushed all the same; a reader of ``--report -`` that leaves
early is none (``worker.output``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from worker.display import Display
from worker.engine.outcomes import ExitCode, Outcome, iso
from worker.engine.report import Results, exit_code, write_report
from worker.errors import CsbsWorkerError
from worker.metrics import RunMetrics, push_run_metrics
from worker.output import reader_may_leave
from worker.services import lookup
from worker.settings import Settings
from worker.summary import RunView, problems_of, show_summary

log = structlog.get_logger()


@dataclass(frozen=True)
class RunEnd:
    """How the deleting ended, beyond what the task outcomes say."""

    aborted: bool = False
    in_flight: int = 0  # tasks in flight that the stop or abort cut off


async def finish_delete(*, settings: Settings, run_id: str, started_at: float, ended_at: float, results: Results,
                        end: RunEnd, calls: Mapping[str, int], dry_run: bool, stopped: bool,
                        error: CsbsWorkerError | None, display: Display, redact: Callable[[str], str],
                        plan_digest: str | None = None) -> ExitCode:
    """Summary, report and metrics; returns the exit code."""
    counts = results.counts()
    code = _exit_code(counts, end, stopped, error, results.withheld())
    sent = len(results.plan) - counts[Outcome.NOT_ATTEMPTED]
    calls_per_task = round(sum(calls.values()) / sent, 2) if sent else None
    log.info("run_summary", exit_code=int(code), duration_s=round(ended_at - started_at, 3), tasks=len(results.plan),
             calls=dict(calls), calls_per_task=calls_per_task, dry_run=dry_run, **counts)
    if settings.report and (error is None or error.exit_code is not ExitCode.USAGE):
        header = {"run_id": run_id, "started_at": iso(started_at), "ended_at": iso(ended_at),
                  "service": settings.service, "project_id": settings.project_id, "dry_run": dry_run,
                  "exit_code": int(code), "calls": dict(calls)}
        if plan_digest is not None:  # an approvable plan's: the report names what ran
            header["plan_digest"] = plan_digest
        try:
            await report_to(settings.report, functools.partial(write_report, settings.report, header, results, redact,
                                                               lookup.service(settings.service).id_keys))
        except OSError as failure:
            log.error("report_failed", report=settings.report, error=failure.strerror or str(failure))
            code = max(code, ExitCode.INCOMPLETE) if code is not ExitCode.USAGE else code
    if settings.pushgateway and not dry_run:  # a dry run deletes nothing: it must not look like a success
        await _push(settings, counts, ended_at - started_at, end.in_flight, ended_at, code)
    problems, problem_count = problems_of((results.by_index[i] for i in sorted(results.by_index)), redact)
    show_summary(display, RunView(counts, ended_at - started_at, calls_per_task, int(code), problems, problem_count,
                                  dry_run))
    return code


async def report_to(path: str, write: Callable[[], None]) -> None:
    """Run ``write`` (a report writer, off the event loop) into its file, or into stdout (``-``), whose reader
    may leave early without failing the run; ``OSError`` when the file cannot be written."""
    guard: contextlib.AbstractContextManager[object] = (
        reader_may_leave(sys.stdout, "report") if path == "-" else contextlib.nullcontext())
    with guard:
        await asyncio.to_thread(write)


def _exit_code(counts: Mapping[str, int], end: RunEnd, stopped: bool, error: CsbsWorkerError | None,
               withheld: int) -> ExitCode:
    if error is not None:
        return error.exit_code
    return exit_code(counts, stopped=stopped, aborted=end.aborted, withheld=withheld)


async def _push(settings: Settings, counts: Mapping[str, int], duration_s: float, in_flight: int,
                finished_at: float, code: ExitCode) -> None:
    metrics = RunMetrics(counts=counts, duration_s=duration_s, in_flight_at_exit=in_flight,
                         succeeded=code is ExitCode.OK, finished_at=finished_at, exit_code=int(code))
    failure = await asyncio.to_thread(push_run_metrics, settings.pushgateway or "", job=settings.pushgateway_job,
                                      project_id=settings.project_id or "", metrics=metrics)
    if failure:
        log.warning("pushgateway_failed", error=failure)
    else:
        log.info("metrics_pushed", pushgateway_job=settings.pushgateway_job)
