"""``csbs-worker delete``: plan in, deletions followed to their end, report, metrics and exit code out.

Phases, each inside the run's one cancel scope (``Lifecycle``): check the request and the report path,
read the plan off the event loop (so a stop interrupts even a read of a terminal; an empty plan ends the run
there, exit 0, with no cloud asked anything), start the embedded emulator (``--emulator``), check an
approvable plan's approval (``worker.run.approved``), preflight, plan from ``--policy``, check the size, then
either the dry run or adoption of deletions already in progress and the scheduler. ``finish`` always writes
the summary, the report and the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TextIO

import structlog

from worker.engine.adoption import InProgress
from worker.engine.outcomes import ExitCode
from worker.engine.report import Results
from worker.engine.scheduler import Scheduler
from worker.errors import CsbsWorkerError, UsageError
from worker.output import reader_may_leave
from worker.plan import Plan, Task, read_plan, reads_stdin
from worker.plan.approval import Approval
from worker.progress import report_progress
from worker.retention.policy import Policy, load_policy
from worker.run.approved import checked_approval
from worker.run.finish import RunEnd, finish_delete
from worker.run.follow import oversized, task_runner
from worker.run.lifecycle import Lifecycle
from worker.run.offloop import in_daemon_thread
from worker.run.request import DeleteRequest, EmbeddedCloud
from worker.services import lookup, registry
from worker.services.service import CloudSession
from worker.settings import Secret, Settings, TokenCredentials, require_cloud
from worker.stopping import StopRequests

log = structlog.get_logger()

DEMO_PROJECT_ID = "0123456789abcdef0123456789abcdef"
# A slow listing (whole records, one call each) reaches its reader as it comes, and a reader that has left
# (`| head`) is found within this time instead of a buffer of 8 KiB later; a fast one costs a flush or two.
DRY_RUN_FLUSH_S = 0.1
STDIN_HINT = "csbs-worker: reading the plan from stdin; end with Ctrl-D (Ctrl-C stops)"


class DeleteRun(Lifecycle):
    """One ``delete`` run; see the module docstring for its phases."""

    def __init__(self, request: DeleteRequest, stops: StopRequests, embedded: EmbeddedCloud | None = None) -> None:
        super().__init__(request.flags, stops)
        self.request = request
        self.embedded = embedded
        self.results = Results(Plan())
        self.end = RunEnd()
        self.calls: dict[str, int] = {}
        self.started_at: float | None = None  # wall time of the first phase
        self.settings_used: Settings | None = None  # the settings of the cloud talked to (emulator's too)
        self.approval: Approval | None = None  # an approvable plan's: its backups are checked before each DELETE

    # -- phases ------------------------------------------------------------------------------------

    async def phases(self, settings: Settings) -> None:
        self.started_at = self.clock.wall()
        self._check_request(settings)
        policy = load_policy(self.request.policy) if self.request.policy else None
        self.settings_used = settings = self._target(settings)
        plan = None
        if policy is None:  # the plan is read and checked whole before the cloud is asked anything
            plan = await self._read_plan(settings.project_id, settings.service)
            self.results = Results(plan)
            if not plan:  # nothing to delete needs no cloud: no emulator, no preflight (docs/plans.md)
                self._log_start(0, settings)
                log.warning("plan_empty", detail="the plan names no backup: nothing to delete; the cloud was "
                                                 "not asked anything")
                return
        async with self._cloud(settings, plan) as settings:
            self.settings_used = settings
            self.approval = checked_approval(plan, settings, self.clock.wall())
            async with lookup.service(settings.service).open(settings, self.redactor) as session:
                try:
                    await self._run_against(session, settings, plan, policy)
                finally:
                    self.calls = dict(session.calls)

    async def _run_against(self, session: CloudSession, settings: Settings, plan: Sequence[Task] | None,
                           policy: Policy | None) -> None:
        await session.preflight(settings.preflight_budget_s)
        tasks: Sequence[Task] = plan if plan is not None else ()
        if policy is not None:
            tasks = (await session.plan_from_policy(policy, self.request.explain))[0]
            self.results = Results(tasks)
        self._check_size(len(tasks), settings)
        self._log_start(len(tasks), settings)
        if not tasks:
            log.warning("plan_empty", detail="the policy deletes no backup: nothing to delete")
        elif self.request.dry_run:
            await self._dry_run(session, tasks, settings)
        else:
            await self._execute(session, settings, tasks)

    def _log_start(self, tasks: int, settings: Settings) -> None:
        log.info("run_started", tasks=tasks, dry_run=self.request.dry_run, service=settings.service,
                 project_id=settings.project_id, endpoint=settings.endpoint, concurrency=settings.concurrency)

    def _check_request(self, settings: Settings) -> None:
        request = self.request
        if request.policy and request.plans:
            raise UsageError("give either PLAN files or --policy, not both")
        if request.explain and not request.policy:
            raise UsageError("--explain goes with --policy")
        if request.emulator_scenario and not request.emulator:
            raise UsageError("--emulator-scenario goes with --emulator")
        if settings.expect_digest and request.policy:
            raise UsageError("--expect-digest goes with an approvable PLAN (csbs-worker plan --approvable), "
                             "not with --policy")
        if settings.report and settings.report != "-":
            _check_writable(settings.report)

    def _check_size(self, count: int, settings: Settings) -> None:
        refusal = oversized(count, settings, "--max-deletions")
        if refusal is not None:
            raise UsageError(f"{refusal}; nothing was deleted")

    async def _read_plan(self, project_id: str | None, service: str) -> Plan:
        """Read and check the whole plan in a thread of its own, so that a stop never waits for it."""
        plans = list(self.request.plans)
        if reads_stdin(plans) and sys.stdin is not None and sys.stdin.isatty():
            print(STDIN_HINT, file=sys.stderr, flush=True)
        warnings: list[str] = []
        stdin = _private_stdin() if reads_stdin(plans) else None

        def read() -> Plan:
            try:
                return read_plan(plans, fmt=self.request.plan_format, project_id=project_id,
                                 on_warning=warnings.append, service=registry.entries(service), stdin=stdin)
            finally:
                if stdin is not None:
                    stdin.close()

        plan = await in_daemon_thread(read)
        for warning in warnings:
            log.warning("plan_duplicate", detail=warning)
        return plan

    def _target(self, settings: Settings) -> Settings:
        """The settings checked for the cloud to talk to; with ``--emulator``, its project (the endpoint and
        the token come when it starts)."""
        if not self.request.emulator:
            return require_cloud(settings)
        if self.embedded is None:
            raise UsageError("--emulator is not available here")
        return replace(settings, project_id=settings.project_id or DEMO_PROJECT_ID)

    @contextlib.asynccontextmanager
    async def _cloud(self, settings: Settings, plan: Plan | None) -> AsyncIterator[Settings]:
        """The settings of the cloud to talk to: the configured one, or the embedded emulator seeded with
        the plan's backups (``--emulator``)."""
        if self.embedded is None or not self.request.emulator:
            yield settings
            return
        assert settings.project_id is not None
        async with self.embedded(plan or Plan(), settings.project_id, settings.service) as (endpoint, token):
            self.redactor.add(token)
            log.info("emulator_started", endpoint=endpoint, project_id=settings.project_id)
            yield replace(settings, endpoint=endpoint, credentials=TokenCredentials(Secret(token)))

    async def _dry_run(self, session: CloudSession, tasks: Sequence[Task], settings: Settings) -> None:
        """Print the tasks as a plain-text plan (to stderr when the report takes stdout); whole records are
        listed (read only, each within the preflight's budget) to show their backups. A reader that closes
        the pipe ends the listing within ``DRY_RUN_FLUSH_S``, quietly (``reader_may_leave``)."""
        budget_s = settings.preflight_budget_s
        with reader_may_leave(sys.stderr if settings.report == "-" else sys.stdout, "dry_run") as out:
            flushed = self.clock.now()
            for task in tasks:
                now = self.clock.now()
                if now - flushed >= DRY_RUN_FLUSH_S:
                    out.flush()
                    flushed = now
                out.write(await session.dry_run_line(task, now + budget_s) + "\n")

    async def _execute(self, session: CloudSession, settings: Settings, tasks: Sequence[Task]) -> None:
        in_progress = await session.in_progress(tasks, self.clock.now() + settings.preflight_budget_s)
        scheduler = Scheduler(task_runner(settings, session, self.clock, self.approval), self.results,
                              clock=self.clock,
                              log_ids=lookup.service(settings.service).log_ids,
                              concurrency=settings.concurrency, grace_s=settings.grace_s,
                              hold_s=settings.task_timeout_s, hold_poll_s=settings.poll_max_s)
        self.scheduler = scheduler
        assert self.display is not None
        shower = asyncio.create_task(report_progress(scheduler.progress, self.display,
                                                     settings.progress_interval_s))
        try:
            await self._schedule(scheduler, tasks, in_progress)
        finally:
            shower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shower

    async def _schedule(self, scheduler: Scheduler, tasks: Sequence[Task], in_progress: InProgress) -> None:
        try:
            await scheduler.run(tasks, adopted=in_progress.adopted, foreign=in_progress.foreign)
        finally:
            self.end = RunEnd(aborted=scheduler.aborted is not None, in_flight=scheduler.progress.interrupted)

    # -- the end -----------------------------------------------------------------------------------

    async def finish(self, settings: Settings, error: CsbsWorkerError | None) -> ExitCode:
        if error is not None:
            self.log_error(error)
        assert self.display is not None
        ended_at = self.clock.wall()
        return await finish_delete(
            settings=self.settings_used or settings, run_id=self.run_id, started_at=self.started_at or ended_at,
            ended_at=ended_at, results=self.results, end=self.end, calls=self.calls,
            dry_run=self.request.dry_run, stopped=self.stopped, error=error, display=self.display,
            redact=self.redactor.text, plan_digest=self.approval.digest if self.approval else None)


def _check_writable(path: str) -> None:
    """Refuse a ``--report`` path that cannot be written, before anything is deleted (leaving none behind)."""
    existed = os.path.exists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            os.remove(path)
    except OSError as error:
        raise UsageError(f"--report {path}: cannot write the report there ({error.strerror or error}); "
                         "choose a writable file, or - for stdout") from None


def _private_stdin() -> TextIO | None:
    """Standard input on a descriptor of its own (None when it has none, as in tests): a read of
    ``sys.stdin`` still blocked in the daemon thread when the process ends would make the interpreter abort
    at shutdown ("Fatal Python error: _enter_buffered_busy", exit -6 instead of the run's exit code)."""
    if sys.stdin is None:
        return None
    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: a StringIO or the like
        return None
    return open(os.dup(descriptor), encoding="utf-8-sig", errors="surrogateescape", newline=None)
