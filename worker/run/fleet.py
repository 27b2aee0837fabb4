"""``csbs-worker fleet FLEET_FILE``: many targets (service, endpoint, project, plan or policy) grouped by IAM user,
one pool of slots per user over all its targets, one report (docs/fleet.md).

Phases, inside the run's one cancel scope (``Lifecycle``): read and check the fleet file whole, with every plan
and policy and the sign-in of every user served (a fault anywhere is exit 2 and nothing is sent); open one
session per target, the targets of a user sharing its rate limit; preflight every target and plan every policy
target, all at once; check every plan's size; then, per user and all users at once, adopt what is already being
deleted and run the user's targets as the lanes of one pool (``Scheduler.pool``). Trouble stays where it starts:
a target whose preflight or planning fails ends with its own exit code and the others go on; refused credentials
end every target of that user. ``finish`` writes the report, pushes the metrics and returns the fleet's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

import structlog

from worker.cloud.setup import register_secrets
from worker.cloud.transport import rate_limit
from worker.engine.adoption import InProgress
from worker.engine.outcomes import ExitCode, Outcome
from worker.engine.report import Results, exit_code
from worker.engine.scheduler import Lane, Scheduler
from worker.errors import CsbsWorkerError, SigninRefusedError, UsageError
from worker.fleet import Fleet, FleetTarget, FleetUser, load_fleet
from worker.plan import Plan, Task
from worker.plan.approval import Approval
from worker.run.approved import checked_approval
from worker.run.fleet_end import FleetEnd, TargetEnd, finish_fleet
from worker.run.follow import oversized, task_runner
from worker.run.lifecycle import Lifecycle
from worker.run.offloop import in_daemon_thread
from worker.run.request import EmbeddedFleet, FleetRequest
from worker.services import lookup
from worker.services.service import CloudSession
from worker.settings import Secret, Settings, TokenCredentials
from worker.stopping import StopRequests

log = structlog.get_logger()


@dataclass(eq=False)
class TargetRun:
    """One target through the run: its settings as talked to, its tasks and results, and how it ended when it
    ended before its deletions (its preflight or planning failed, or its user's credentials were refused)."""

    target: FleetTarget
    settings: Settings
    results: Results
    session: CloudSession | None = None
    ended: CsbsWorkerError | None = None
    in_progress: InProgress = field(default_factory=InProgress)
    lane: Lane | None = None
    pool: Scheduler | None = None
    approval: Approval | None = None  # an approvable plan's: its backups are checked before each DELETE

    @property
    def tasks(self) -> Sequence[Task]:
        return self.results.plan  # type: ignore[return-value]  # the plan's tasks, as read or planned

    def end(self, error: CsbsWorkerError) -> None:
        """The target is over before its deletions: logged once, its tasks left not_attempted."""
        if self.ended is None:
            self.ended = error
            event = "target_aborted" if error.exit_code is ExitCode.ABORTED else "target_failed"
            log.error(event, reason=str(error), **self.log_fields)

    @property
    def needs_cloud(self) -> bool:
        """False for an empty plan: nothing to delete, nothing to ask (docs/plans.md, "Empty plans")."""
        return self.target.plan is None or len(self.target.plan) > 0

    @property
    def log_fields(self) -> dict[str, str]:
        return {"user": self.target.user, "target": self.target.name}

    def exit_code(self, stopped: bool) -> ExitCode:
        """The target's own code: how it ended early, else what its tasks and its pool say."""
        if self.ended is not None:
            return self.ended.exit_code
        counts = self.results.counts()
        aborted = self.lane is not None and (self.lane.aborted is not None or
                                             (self.pool is not None and self.pool.aborted is not None))
        cut_off = stopped and (counts[Outcome.NOT_ATTEMPTED] > 0 or counts[Outcome.TIMED_OUT] > 0)
        return exit_code(counts, stopped=cut_off, aborted=aborted, withheld=self.results.withheld())


class FleetRun(Lifecycle):
    """One ``fleet`` run; see the module docstring for its phases."""

    command = "fleet"

    def __init__(self, request: FleetRequest, stops: StopRequests, embedded: EmbeddedFleet | None = None) -> None:
        super().__init__(request.flags, stops)
        self.request = request
        self.embedded = embedded
        self.fleet: Fleet | None = None
        self.runs: list[TargetRun] = []
        self.pools: list[Scheduler] = []
        self.started_at: float | None = None

    # -- phases ------------------------------------------------------------------------------------

    async def phases(self, settings: Settings) -> None:
        self.started_at = self.clock.wall()
        request = self.request
        environ = dict(os.environ)
        fleet = await in_daemon_thread(lambda: load_fleet(request.path, settings, environ, shard=request.shard,
                                                          user=request.user, emulator=request.emulator))
        self.fleet = fleet
        for warning in fleet.warnings:
            log.warning("setting_warning", detail=warning)
        self.runs = [TargetRun(target, target.settings, Results(target.plan or Plan()))
                     for user in fleet.users for target in user.targets]
        for run in self.runs:
            register_secrets(run.settings, self.redactor)
        log.info("fleet_started", fleet=request.path, users=len(fleet.users), targets=len(self.runs),
                 dry_run=request.dry_run)
        async with self._cloud(), contextlib.AsyncExitStack() as sessions:
            await self._open(sessions)
            await self._prepare()
            self._check_sizes()
            if request.dry_run:
                return
            await asyncio.gather(*(self._adopt(run) for run in self._going()))
            await self._delete()

    @contextlib.asynccontextmanager
    async def _cloud(self) -> AsyncIterator[None]:
        """With ``--emulator``: the embedded emulators, and every target's settings pointed at them."""
        if not self.request.emulator:
            yield
            return
        if self.embedded is None:
            raise UsageError("--emulator is not available here")
        sites = [(run.target.user, run.settings.service, run.target.settings.endpoint or "",
                  run.settings.project_id or "", run.target.plan) for run in self.runs]
        async with self.embedded(sites) as cloud:
            for run in self.runs:
                token = cloud.token(run.target.user)
                self.redactor.add(token)
                run.settings = replace(run.settings, endpoint=cloud.url(run.settings.service, run.settings.endpoint
                                                                        or ""),
                                       credentials=TokenCredentials(Secret(token)))
            log.info("emulator_started", sites=len({(s[1], s[2]) for s in sites}))
            yield

    async def _open(self, sessions: contextlib.AsyncExitStack) -> None:
        """One session per target; a user's targets share its rate limit, as the cloud counts it."""
        assert self.fleet is not None
        for user in self.fleet.users:
            limit = rate_limit(user.max_rps)
            for run in self._runs_of(user):
                service = lookup.service(run.settings.service)
                run.session = await sessions.enter_async_context(service.open(run.settings, self.redactor, limit))

    async def _prepare(self) -> None:
        """Every target's preflight, then its plan from its policy, all targets at once; a plan refused by its
        guards (a ``UsageError``) stops the fleet before any DELETE, whatever the other targets did."""
        outcomes = await asyncio.gather(*(self._prepare_one(run) for run in self.runs), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        for run in self.runs:  # refused credentials end every target that signs in with them
            if isinstance(run.ended, SigninRefusedError):
                for other in self.runs:
                    if other.target.user == run.target.user:
                        other.end(run.ended)

    async def _prepare_one(self, run: TargetRun) -> None:
        assert run.session is not None
        with structlog.contextvars.bound_contextvars(**run.log_fields):
            if not run.needs_cloud:
                log.warning("plan_empty", detail="the plan names no backup: nothing to delete")
                return
            # A fleet approves no digest (one per run would not fit its targets): an approvable plan warns, and
            # its backups are still checked before each DELETE (docs/fleet.md).
            run.approval = checked_approval(run.target.plan, replace(run.settings, expect_digest=None),
                                            self.clock.wall())
            try:
                await run.session.preflight(run.settings.preflight_budget_s)
                if run.target.policy is not None:
                    tasks = (await run.session.plan_from_policy(run.target.policy, None))[0]
                    run.results = Results(tasks)
                    log.info("plan_ready", deletions=len(tasks), service=run.settings.service)
            except UsageError:
                raise
            except CsbsWorkerError as error:  # exit 3 or 1 for this target alone
                run.end(error)

    def _check_sizes(self) -> None:
        for run in self._going():
            refusal = oversized(len(run.tasks), run.settings, "max_deletions")
            if refusal is not None:
                raise UsageError(f"{run.target.where}: target {run.target.name}: {refusal}; nothing was deleted "
                                 "anywhere")
        for run in self.runs:
            log.info("target_ready", tasks=len(run.tasks), service=run.settings.service,
                     project_id=run.settings.project_id, going=run.ended is None, **run.log_fields)

    async def _adopt(self, run: TargetRun) -> None:
        assert run.session is not None
        with structlog.contextvars.bound_contextvars(**run.log_fields):
            deadline = self.clock.now() + run.settings.preflight_budget_s
            run.in_progress = await run.session.in_progress(run.tasks, deadline)

    async def _delete(self) -> None:
        """Every user's pool at once; each pool runs its user's targets as lanes."""
        assert self.fleet is not None and self.display is not None
        pools = [self._pool(user) for user in self.fleet.users]
        self.pools = [pool for pool in pools if pool is not None]
        users = [user for user, pool in zip(self.fleet.users, pools, strict=True) if pool is not None]
        await asyncio.gather(*(self._run_pool(user, pool) for user, pool in zip(users, self.pools, strict=True)))

    def _pool(self, user: FleetUser) -> Scheduler | None:
        runs = [run for run in self._runs_of(user) if run.ended is None and (run.tasks or run.in_progress.foreign)]
        if not runs:
            return None
        for run in runs:
            assert run.session is not None
            service = lookup.service(run.settings.service)
            runner = task_runner(run.settings, run.session, self.clock, run.approval)
            run.lane = Lane(runner, run.results, log_ids=service.log_ids, fields={"target": run.target.name},
                            adopted=run.in_progress.adopted, foreign=run.in_progress.foreign)
        settings = runs[0].settings
        pool = Scheduler.pool([run.lane for run in runs if run.lane is not None], concurrency=user.concurrency,
                              grace_s=settings.grace_s, clock=self.clock,
                              hold_s=max(run.settings.task_timeout_s for run in runs),
                              hold_poll_s=max(run.settings.poll_max_s for run in runs))
        for run in runs:
            run.pool = pool
        return pool

    async def _run_pool(self, user: FleetUser, pool: Scheduler) -> None:
        with structlog.contextvars.bound_contextvars(user=user.name):
            log.info("user_started", targets=len(pool.lanes), tasks=pool.progress.total, concurrency=pool.concurrency)
            if self.stop_reason is not None:
                pool.request_stop(self.stop_reason)
            await pool.run_lanes()

    def _going(self) -> list[TargetRun]:
        return [run for run in self.runs if run.ended is None and run.needs_cloud]

    def _runs_of(self, user: FleetUser) -> list[TargetRun]:
        return [run for run in self.runs if run.target.user == user.name]

    # -- stops ---------------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """A stop reaches every user's pool while deletions run (each gives its tasks in flight ``--grace``),
        else it cancels the phase that runs."""
        if self.pools and not self._done():
            self.stop_reason = self.stop_reason or reason
            for pool in self.pools:
                pool.request_stop(reason)
            return
        super().request_stop(reason)

    # -- the end -----------------------------------------------------------------------------------

    async def finish(self, settings: Settings, error: CsbsWorkerError | None) -> ExitCode:
        if error is not None:
            self.log_error(error)
        assert self.display is not None
        ended_at = self.clock.wall()
        targets = [self._target_end(run) for run in self.runs]
        return await finish_fleet(settings, FleetEnd(
            run_id=self.run_id, started_at=self.started_at or ended_at, ended_at=ended_at, path=self.request.path,
            selected=self._selected(), dry_run=self.request.dry_run, stopped=self.stopped, error=error,
            targets=targets, in_flight=sum(pool.progress.interrupted for pool in self.pools)),
            self.display, self.redactor.text)

    def _target_end(self, run: TargetRun) -> TargetEnd:
        target = run.target
        return TargetEnd(name=target.name, user=target.user, service=target.settings.service,
                         project_id=target.settings.project_id or "", endpoint=target.settings.endpoint or "",
                         exit_code=run.exit_code(self.stopped), results=run.results,
                         calls=dict(run.session.calls) if run.session is not None else {},
                         reason=str(run.ended) if run.ended is not None else None)

    def _selected(self) -> str | None:
        if self.request.user is not None:
            return self.request.user
        if self.request.shard is not None and self.fleet is not None and self.fleet.users:
            return self.fleet.users[0].name
        return None

