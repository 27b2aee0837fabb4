"""``csbs-worker plan --policy FILE``: list, apply the policy, print the plan; nothing is deleted."""

from __future__ import annotations

import sys

import structlog

from worker.engine.outcomes import ExitCode
from worker.errors import CsbsWorkerError
from worker.output import reader_may_leave
from worker.retention.policy import load_policy
from worker.run.lifecycle import Lifecycle
from worker.run.request import PlanRequest
from worker.services import lookup
from worker.settings import Settings, require_cloud
from worker.stopping import StopRequests

log = structlog.get_logger()


class PlanRun(Lifecycle):
    """``csbs-worker plan``: list, apply the policy, print the plan (nothing is deleted)."""

    command = "plan"

    def __init__(self, request: PlanRequest, stops: StopRequests) -> None:
        super().__init__(request.flags, stops)
        self.request = request
        self.document: str | None = None

    async def phases(self, settings: Settings) -> None:
        policy = load_policy(self.request.policy)
        settings = require_cloud(settings)
        assert settings.endpoint is not None
        async with lookup.service(settings.service).open(settings, self.redactor) as session:
            await session.preflight(settings.preflight_budget_s)
            tasks, self.document = await session.plan_from_policy(policy, self.request.explain)
        log.info("plan_ready", deletions=len(tasks), service=settings.service)

    async def finish(self, settings: Settings, error: CsbsWorkerError | None) -> ExitCode:
        if error is not None:
            self.log_error(error)
            return error.exit_code
        if self.stopped or self.document is None:
            return ExitCode.STOPPED
        with reader_may_leave(sys.stdout, "plan") as out:  # `plan | head` is the reader's choice: still exit 0
            out.write(self.document)
        return ExitCode.OK
