"""``csbs-worker delete``: plan in, deletions followed to their end, report, metrics and exit code out.

Phases, each inside the run's one cancel scope (``Lifecycle``): check the request and the report path,
read the plan off the event loop (so a stop interrupts even a read of a terminal), start the embedded
emulator (``--emulator``), check an approvable plan's approval (``worker.run.approved``), preflight, plan
from ``--policy``, check the size, then either the dry run or
adoption of deletions already in progress and the scheduler. ``finish`` always writes the summary, the
report and the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import TextIO, TypeVar

import structlog

from worker.engine.adoption import InProgress
from worker.engine.outcomes import ExitCode
from worker.engine.pacing import PollTiming
from worker.engine.report import Results
from worker.engine.scheduler import Scheduler
from worker.engine.tracking import TaskRunner, TrackingPolicy
from worker.errors import CsbsWorkerError, UsageError
from worker.plan import Plan, Task, read_plan, reads_stdin
from worker.plan.approval import Approval
from worker.progress import report_progress
from worker.retention.policy import Policy, load_policy
from worker.run.approved import checked_approval
from worker.run.finish import RunEnd, finish_delete
from worker.run.lifecycle import Lifecycle
from worker.run.request import DeleteRequest, EmbeddedCloud
from worker.services import lookup, registry
from worker.services.service import CloudSession
from worker.settings import Secret, Settings, TokenCredentials, require_cloud
from worker.stopping import StopRequests

log = structlog.get_logger()

DEMO_PROJECT_ID = "0123456789abcdef0123456789abcdef"
STDIN_HINT = "csbs-worker: reading the plan from stdin; end with Ctrl-D (Ctrl-C stops)"
T = TypeVar("T")


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
        async with self._cloud(settings) as (settings, plan):
            self.settings_used = settings
            if policy is None:  # the plan is read and checked whole before the cloud is asked anything
                plan = plan if plan is not None else await self._read_plan(settings.project_id, settings.service)
                self.results = Results(plan)
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
        log.info("run_started", tasks=len(tasks), dry_run=self.request.dry_run, service=settings.service,
                 project_id=settings.project_id,
                 endpoint=settings.endpoint, concurrency=settings.concurrency)
        if not tasks:
            log.warning("plan_empty", detail="the plan names no backup: nothing to delete")
        elif self.request.dry_run:
            await self._dry_run(session, tasks, settings)
        else:
            await self._execute(session, settings, tasks)

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
        if settings.max_deletions is not None and count > settings.max_deletions:
            raise UsageError(f"the plan holds {count} deletion tasks, more than --max-deletions "
                             f"{settings.max_deletions}; nothing was deleted")

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

        plan = await _in_daemon_thread(read)
        for warning in warnings:
            log.warning("plan_duplicate", detail=warning)
        return plan

    @contextlib.asynccontextmanager
    async def _cloud(self, settings: Settings) -> AsyncIterator[tuple[Settings, Plan | None]]:
        """The settings of the cloud to talk to, and the plan when it had to be read first (``--emulator``)."""
        if not self.request.emulator:
            yield require_cloud(settings), None
            return
        if self.embedded is None:
            raise UsageError("--emulator is not available here")
        project_id = settings.project_id or DEMO_PROJECT_ID
        plan = await self._read_plan(project_id, settings.service) if not self.request.policy else Plan()
        self.results = Results(plan)
        async with self.embedded(plan, project_id, settings.service) as (endpoint, token):
            self.redactor.add(token)
            log.info("emulator_started", endpoint=endpoint, project_id=project_id)
            yield replace(settings, endpoint=endpoint, project_id=project_id,
                          credentials=TokenCredentials(Secret(token))), plan

    async def _dry_run(self, session: CloudSession, tasks: Sequence[Task], settings: Settings) -> None:
        """Print the tasks as a plain-text plan (to stderr when the report takes stdout); whole records are
        listed (read only, each within the preflight's budget) to show their backups."""
        out = sys.stderr if settings.report == "-" else sys.stdout
        budget_s = settings.preflight_budget_s
        for task in tasks:
            out.write(await session.dry_run_line(task, self.clock.now() + budget_s) + "\n")
        out.flush()

    async def _execute(self, session: CloudSession, settings: Settings, tasks: Sequence[Task]) -> None:
        policy = TrackingPolicy(
            task_timeout_s=settings.task_timeout_s, lag_window_s=settings.lag_window_s,
            timing=PollTiming(settings.poll_first_s, settings.poll_min_s, settings.poll_max_s),
            retry=session.retry, look_budget_s=settings.preflight_budget_s)
        in_progress = await session.in_progress(tasks, self.clock.now() + settings.preflight_budget_s)
        runner = TaskRunner(session.rules(self.approval), policy, self.clock)
        scheduler = Scheduler(runner, self.results, clock=self.clock,
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


async def _in_daemon_thread(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread: a stop stops waiting for it at once, and the process never waits for
    a read of a terminal or a pipe that has not ended (``asyncio.to_thread`` would, at shutdown)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # None only with an error

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # handed to the awaiting coroutine, whatever it is
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run ended without this result
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="plan-reader", daemon=True).start()
    return await future
